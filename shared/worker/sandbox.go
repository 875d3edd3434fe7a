package worker

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Mounts are the run-specific host paths a sandbox exposes, each at its
// host path.
type Mounts struct {
	Work     string   // writable: the run's working directory, also the current directory
	Writable []string // writable: run-private directories (HOME, TMPDIR)
	ReadOnly []string // read-only, bound after Writable so they may lie inside one
}

// Sandbox wraps a command so it runs confined.
type Sandbox interface {
	// Wrap returns the argv that runs argv (argv[0] an absolute path) in
	// the sandbox with m exposed.
	Wrap(m Mounts, argv []string) ([]string, error)
	// Supervises reports whether the wrapped process is a sandbox
	// supervisor rather than the job's shell. A graceful stop then sends
	// SIGTERM to the job's processes but not to the supervisor, which would
	// die of it and take the whole sandbox down at once, defeating the
	// grace period.
	Supervises() bool
}

// None runs commands directly on the host, for a machine that is itself the
// sandbox (an AWS Batch container) and for tests. The command still runs in
// its own session and process group with only the run's environment.
type None struct{}

func (None) Wrap(_ Mounts, argv []string) ([]string, error) { return argv, nil }
func (None) Supervises() bool                               { return false }

// Bubblewrap runs each command in bwrap (as root, no user namespace needed).
//
// Layout inside the sandbox:
//   - /usr, /sys read-only; /bin, /sbin, /lib, /lib64 (and /lib32, /libx32)
//     mirror the host, as symlinks into /usr on merged-/usr systems;
//   - /etc read-only, whole: software finds its configuration there
//     (Debian's /etc/alternatives makes `mpirun` a symlink through /etc,
//     Open MPI reads /etc/openmpi, the dynamic loader /etc/ld.so.cache,
//     name resolution nsswitch.conf, hosts and resolv.conf, TLS
//     ssl/certs), and a minimal subset would break whatever software
//     needs the next file. The secrets in it are masked instead: shadow
//     and gshadow (and their backups), ssh host keys, and Hide;
//   - a fresh /proc (own pid namespace), a minimal /dev, and empty
//     tmpfs /tmp and /var/tmp; everything else (the root itself, the
//     mount points' parents) is read-only;
//   - the run's working directory, writable, at the SAME path as on the
//     host, so commands, environment variables (RESCALE_*) and paths
//     printed in logs mean the same inside and outside and the same Spec
//     runs with None; its parent directories exist but are empty, so other
//     runs' directories and the server's data directory are absent;
//   - the run's private HOME/TMPDIR directory (writable) and support files
//     (hostfile, RunFunctions; read-only), also at their host paths;
//   - ReadOnly: software installed outside /usr (e.g. /opt/ansys). /opt is
//     not bound by default because a server may keep its data there.
//
// Namespaces: pid (a stop or the end of the run kills everything, even
// processes that left the process group), ipc and uts are private; the
// network is shared, since jobs call the platform's API on 127.0.0.1 with
// their key. All capabilities are dropped: root inside cannot remount,
// unmount the masks or ptrace outside. --new-session is not used: the
// worker already starts every phase in a new session without a
// controlling terminal, and bwrap's own setsid would move the job out of
// the process group a stop signals. --die-with-parent ties the sandbox to
// the worker.
type Bubblewrap struct {
	Path     string   // the bwrap binary; "" is /usr/bin/bwrap
	ReadOnly []string // extra host paths bound read-only at the same path
	Hide     []string // extra host paths (inside /etc or ReadOnly) masked with an empty file or directory
}

// defaultHidden are the secrets of a stock /etc. Globs are expanded.
func defaultHidden() []string {
	return []string{
		"/etc/shadow", "/etc/shadow-", "/etc/gshadow", "/etc/gshadow-",
		"/etc/ssh/ssh_host_*_key",
	}
}

func (Bubblewrap) Supervises() bool { return true }

func (b Bubblewrap) Wrap(m Mounts, argv []string) ([]string, error) {
	bin := b.Path
	if bin == "" {
		bin = "/usr/bin/bwrap"
	}
	if !filepath.IsAbs(m.Work) {
		return nil, fmt.Errorf("worker: bubblewrap: working directory %q is not absolute", m.Work)
	}
	a := []string{bin,
		"--die-with-parent", "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try",
		"--cap-drop", "ALL",
		"--ro-bind", "/usr", "/usr",
	}
	for _, d := range []string{"/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"} {
		fi, err := os.Lstat(d)
		switch {
		case err != nil:
		case fi.Mode()&fs.ModeSymlink != 0:
			t, err := os.Readlink(d)
			if err != nil {
				return nil, fmt.Errorf("worker: bubblewrap: %w", err)
			}
			a = append(a, "--symlink", t, d)
		case fi.IsDir():
			a = append(a, "--ro-bind", d, d)
		}
	}
	a = append(a, "--ro-bind", "/etc", "/etc")
	// resolv.conf is often a symlink into /run (systemd-resolved), which is
	// not bound: it holds the host's sockets.
	if t, err := filepath.EvalSymlinks("/etc/resolv.conf"); err == nil && !within(t, "/etc") && !within(t, "/usr") {
		a = append(a, "--ro-bind", t, t)
	}
	a = append(a, "--ro-bind", "/sys", "/sys", // hwloc (Open MPI) reads the CPU topology there
		"--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp", "--tmpfs", "/var/tmp")
	for _, p := range b.ReadOnly {
		if !filepath.IsAbs(p) {
			return nil, fmt.Errorf("worker: bubblewrap: read-only path %q is not absolute", p)
		}
		a = append(a, "--ro-bind", p, p)
	}
	hidden, err := expandHidden(append(defaultHidden(), b.Hide...))
	if err != nil {
		return nil, err
	}
	for _, h := range hidden {
		if h.dir {
			a = append(a, "--tmpfs", h.path, "--remount-ro", h.path)
		} else {
			a = append(a, "--ro-bind", "/dev/null", h.path)
		}
	}
	a = append(a, "--bind", m.Work, m.Work)
	for _, p := range m.Writable {
		a = append(a, "--bind", p, p)
	}
	for _, p := range m.ReadOnly {
		a = append(a, "--ro-bind", p, p)
	}
	// The sandbox's root is bwrap's own tmpfs, holding the mount points
	// (the parents of Work): read-only, or a job could write into memory
	// everywhere outside its directory.
	a = append(a, "--remount-ro", "/", "--chdir", m.Work, "--")
	return append(a, argv...), nil
}

type hiddenPath struct {
	path string
	dir  bool
}

func expandHidden(patterns []string) ([]hiddenPath, error) {
	var out []hiddenPath
	for _, p := range patterns {
		if !filepath.IsAbs(p) {
			return nil, fmt.Errorf("worker: bubblewrap: hidden path %q is not absolute", p)
		}
		matches, err := filepath.Glob(p)
		if err != nil {
			return nil, fmt.Errorf("worker: bubblewrap: hidden path %q: %w", p, err)
		}
		for _, m := range matches {
			fi, err := os.Lstat(m)
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			if err != nil {
				return nil, fmt.Errorf("worker: bubblewrap: %w", err)
			}
			out = append(out, hiddenPath{m, fi.IsDir()})
		}
	}
	return out, nil
}

// within reports whether p is dir or lies under it.
func within(p, dir string) bool {
	return p == dir || strings.HasPrefix(p, dir+"/")
}
