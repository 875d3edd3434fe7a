package worker

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// TestDiskFull: a command failing on a full file system is a system error.
// It mounts a tiny tmpfs, so it needs root with CAP_SYS_ADMIN.
func TestDiskFull(t *testing.T) {
	dir, scratch := workDir(t)
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size=256k"); err != nil {
		t.Skipf("SKIPPING: cannot mount a small tmpfs (%v)", err)
	}
	defer syscall.Unmount(dir, 0)
	r := run(t, Spec{Dir: dir, Scratch: scratch, Command: "head -c 1048576 /dev/zero > big"})
	if !errors.Is(r.Err, ErrNoSpace) || r.ExitCode != 1 {
		t.Errorf("result %+v, want ErrNoSpace with the exit code kept", r)
	}
	os.Remove(filepath.Join(dir, "big"))
	r = run(t, Spec{Dir: dir, Scratch: scratch, Command: "exit 2"})
	if r.Err != nil {
		t.Errorf("with space again: Err = %v", r.Err)
	}
}
