package worker

import (
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"unsafe"
)

// waitAndClean waits for cmd to exit, calls clean while the exited leader
// is still unreaped (so its process group id cannot have been reused), then
// reaps it.
func waitAndClean(cmd *exec.Cmd, clean func()) error {
	if err := waitExited(cmd.Process.Pid); err == nil {
		clean()
		return cmd.Wait()
	}
	err := cmd.Wait()
	clean()
	return err
}

// waitExited blocks until process pid has exited without reaping it
// (waitid with WNOWAIT). Until it is reaped its pid, and so its process
// group id, cannot be reused, so the group can still be signalled safely.
func waitExited(pid int) error {
	const (
		pPID    = 1          // P_PID
		wNOWAIT = 0x01000000 // WNOWAIT
	)
	var info [128]byte // siginfo_t
	for {
		_, _, e := syscall.Syscall6(syscall.SYS_WAITID, pPID, uintptr(pid),
			uintptr(unsafe.Pointer(&info[0])), syscall.WEXITED|wNOWAIT, 0, 0)
		switch e {
		case 0:
			return nil
		case syscall.EINTR:
			continue
		default:
			return e
		}
	}
}

// groupMembers lists the processes of process group pgid, from /proc.
func groupMembers(pgid int) []int {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var out []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if g, ok := processGroup(pid); ok && g == pgid {
			out = append(out, pid)
		}
	}
	return out
}

// processGroup reads the pgrp field of /proc/<pid>/stat: "pid (comm) state
// ppid pgrp ...", where comm may itself contain spaces and parentheses.
func processGroup(pid int) (int, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 3 {
		return 0, false
	}
	g, err := strconv.Atoi(f[2])
	return g, err == nil
}
