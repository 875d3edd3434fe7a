package worker

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"slices"
	"strings"
	"time"
)

// Software is how one analysis version runs on this machine, from the
// deployment's configuration.
type Software struct {
	// EnvScript is sourced (bash `source`) before every command, e.g.
	// /usr/share/openfoam/etc/bashrc. Its output is not the job's (it goes
	// to the setup output, shown only when setup fails) and its exit status
	// is ignored: such scripts are written for interactive shells and often
	// end with a failing test or print warnings (Debian's OpenFOAM bashrc
	// complains about a missing foamCleanPath) while working fine. Whether
	// it worked is judged by Requires.
	EnvScript string
	// Requires are binaries that must be on PATH after sourcing, e.g.
	// ["simpleFoam"].
	Requires []string
	// Env is set before sourcing; the job's own Spec.Env wins over it.
	Env map[string]string
	// OpenFOAM provides $WM_PROJECT_DIR/bin/tools/RunFunctions when the
	// installation lacks it (see the package comment).
	OpenFOAM bool
}

// Check sources the env script in bash and looks up every required binary,
// so that a job that cannot run here fails at validation with a clear
// reason: "simpleFoam not found after sourcing
// /usr/share/openfoam/etc/bashrc" (wrapping ErrSoftwareMissing). It runs on
// the host, outside any sandbox, with the same environment a run gets minus
// the job's variables; software installed outside /usr must also be bound
// into the sandbox (Bubblewrap.ReadOnly), or runs fail setup with
// "env script ...: not found".
func (s Software) Check(ctx context.Context) error {
	bash, err := bashPath()
	if err != nil {
		return err
	}
	if s.EnvScript != "" {
		if _, err := os.Stat(s.EnvScript); err != nil {
			return fmt.Errorf("worker: software env script: %w", err)
		}
	}
	if err := validEnv(s.Env); err != nil {
		return err
	}
	script := s.prelude() + `printf '%s\n' "$__worker_missing"` + "\n"
	cmd := exec.CommandContext(ctx, bash, "--noprofile", "--norc", "-c", script)
	cmd.Env = environ(s.Env, map[string]string{"HOME": "/nonexistent"})
	cmd.Dir = "/"
	var out, noise bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &capped{buf: &noise, max: 4096}
	cmd.WaitDelay = 2 * time.Second // a daemon started by the script must not hold the pipes forever
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("worker: software check: %w: %s", err, strings.TrimSpace(noise.String()))
	}
	if missing := strings.Fields(out.String()); len(missing) > 0 {
		return s.missingError(missing)
	}
	return nil
}

func (s Software) missingError(missing []string) error {
	what := strings.Join(missing, ", ")
	if s.EnvScript == "" {
		return fmt.Errorf("worker: %w: %s not found on PATH", ErrSoftwareMissing, what)
	}
	return fmt.Errorf("worker: %w: %s not found after sourcing %s", ErrSoftwareMissing, what, s.EnvScript)
}

// prelude is the bash text that sets up the software environment: source
// the env script with its output sent to stderr (the setup channel), then
// collect the missing required binaries in $__worker_missing.
func (s Software) prelude() string {
	var b strings.Builder
	if s.EnvScript != "" {
		// bash's source of a missing file only returns 1: make it fatal.
		q := shellQuote(s.EnvScript)
		fmt.Fprintf(&b, "if [ ! -r %s ]; then printf 'env script %%s: not found or not readable\\n' %s >&2; exit 1; fi\n", q, q)
		fmt.Fprintf(&b, "source %s 1>&2\n", q)
	}
	b.WriteString("__worker_missing=\n")
	if len(s.Requires) > 0 {
		b.WriteString("for __worker_b in")
		for _, r := range s.Requires {
			b.WriteString(" " + shellQuote(r))
		}
		b.WriteString(`; do command -v "$__worker_b" >/dev/null 2>&1 || __worker_missing="$__worker_missing $__worker_b"; done` + "\n")
		b.WriteString("unset __worker_b\n")
	}
	return b.String()
}

// safePATH is the PATH every run starts with: the system directories, not
// whatever this server was started with.
const safePATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// bashPath finds bash in the system directories. It is not looked up in
// this process's PATH, which is the server's environment, not the job's.
func bashPath() (string, error) {
	for _, p := range []string{"/usr/bin/bash", "/bin/bash", "/usr/local/bin/bash"} {
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
			return p, nil
		}
	}
	return "", errors.New("worker: bash not found in /usr/bin, /bin or /usr/local/bin")
}

// environ builds an environment from a fixed base and layers of variables,
// later layers winning.
func environ(layers ...map[string]string) []string {
	env := map[string]string{"PATH": safePATH, "LANG": "C.UTF-8"}
	for _, l := range layers {
		for k, v := range l {
			env[k] = v
		}
	}
	out := make([]string, 0, len(env))
	for _, k := range slices.Sorted(maps.Keys(env)) {
		out = append(out, k+"="+env[k])
	}
	return out
}

// validEnv refuses variable names that would corrupt the environment.
func validEnv(env map[string]string) error {
	for k, v := range env {
		if k == "" || strings.ContainsAny(k, "=\x00") || strings.ContainsRune(v, 0) {
			return fmt.Errorf("worker: invalid environment variable %q", k)
		}
	}
	return nil
}

// shellQuote quotes s for bash as one word.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// capped is a writer that keeps the last max bytes written to it: enough
// to explain a failure, never a whole chatty script's output.
type capped struct {
	buf *bytes.Buffer
	max int
}

func (c *capped) Write(p []byte) (int, error) {
	n := len(p)
	if len(p) > c.max {
		p = p[len(p)-c.max:]
	}
	if over := c.buf.Len() + len(p) - c.max; over > 0 {
		rest := append([]byte(nil), c.buf.Bytes()[over:]...)
		c.buf.Reset()
		c.buf.Write(rest)
	}
	c.buf.Write(p)
	return n, nil
}
