package worker

import "errors"

var (
	// ErrUnsafePath: a name (an input, an archive entry, a path asked of
	// ListDir or Tail) is absolute, climbs out of the directory, or goes
	// through a symlink leading out of it.
	ErrUnsafePath = errors.New("path escapes the working directory")
	// ErrNoSpace: CheckDisk found less free space than asked for.
	ErrNoSpace = errors.New("not enough free disk space")
	// ErrSoftwareMissing: binaries a Software requires are not on PATH after
	// sourcing its env script.
	ErrSoftwareMissing = errors.New("software not found")
	// ErrSetup: the sandbox or the run's environment could not be set up, so
	// the command never started.
	ErrSetup = errors.New("run setup failed")
)
