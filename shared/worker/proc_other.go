//go:build !linux

package worker

import "os/exec"

// waitAndClean waits for cmd, then calls clean. Without waitid(WNOWAIT) the
// leader is reaped first, leaving a tiny window in which its process group
// id could be reused before clean signals it.
func waitAndClean(cmd *exec.Cmd, clean func()) error {
	err := cmd.Wait()
	clean()
	return err
}

// groupMembers needs /proc; a graceful stop of a supervised sandbox
// (bubblewrap, Linux only) does not arise without it.
func groupMembers(pgid int) []int { return nil }
