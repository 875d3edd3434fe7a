package motoserver

import "syscall"

// sysProcAttr has the kernel kill the server when the test binary dies, so a
// test that panics or times out does not leave a server behind.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
