// Command rescale is a command-line client of the Rescale REST API (v2):
// uploads with progress and resumable multipart sessions, ranged parallel
// downloads, files, jobs (list, submit, status with a live log, stop,
// outputs). It uses the public API only, so it works against
// `rescale-local serve` and a deployed stack alike.
//
//	rescale [--api-url URL] [--api-key KEY] [--profile NAME] [--json] COMMAND
//
// Configuration comes from flags, then RESCALE_API_URL / RESCALE_API_KEY,
// then ~/.config/rescale/apiconfig (INI: apikey, apiurl). Tables are for
// people; --json prints the API's objects for scripts. Errors go to stderr
// with the API's detail; exit status 1 (2 for a usage error), or the
// job's for `jobs status --follow`.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"golang.org/x/term"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	home, _ := os.UserHomeDir()
	m := &Main{
		Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv, Home: home,
		Progress: term.IsTerminal(int(os.Stderr.Fd())),
	}
	code := m.Run(ctx, os.Args[1:])
	stop()
	os.Exit(code)
}

// Main is the program: its streams and environment, so tests can run it
// in-process.
type Main struct {
	Stdout, Stderr io.Writer
	Getenv         func(string) string
	// Home holds .config/rescale/apiconfig and, unless XDG_STATE_HOME is
	// set, .local/state/rescale (upload state).
	Home string
	// Progress shows progress bars on Stderr (a terminal).
	Progress bool
}

// exitError ends the program with a status; its message (if any) has
// been printed already.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

// usageError is a mistake in the command line: exit status 2.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// Run runs the command line args and returns the exit status.
func (m *Main) Run(ctx context.Context, args []string) int {
	root := m.rootCommand()
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return 0
	}
	var ex exitError
	if errors.As(err, &ex) {
		return ex.code
	}
	if errors.Is(err, context.Canceled) && ctx.Err() != nil {
		fmt.Fprintln(m.Stderr, "rescale: interrupted")
		return 130
	}
	fmt.Fprintln(m.Stderr, "rescale:", err)
	var ue usageError
	if errors.As(err, &ue) {
		fmt.Fprintln(m.Stderr, "Run 'rescale --help' for usage.")
		return 2
	}
	return 1
}

// stateDir is where resumable uploads keep their state.
func (m *Main) stateDir() string {
	if d := m.Getenv("XDG_STATE_HOME"); d != "" {
		return filepath.Join(d, "rescale", "uploads")
	}
	return filepath.Join(m.Home, ".local", "state", "rescale", "uploads")
}
