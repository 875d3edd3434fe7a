//go:build !linux

package motoserver

import "syscall"

// sysProcAttr: only Linux has a parent-death signal; elsewhere a crashed
// test binary can leave the server running until it is killed by hand.
func sysProcAttr() *syscall.SysProcAttr { return nil }
