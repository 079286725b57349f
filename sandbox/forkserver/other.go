//go:build !linux

package forkserver

import (
	"errors"
	"io"
	"runtime"
	"syscall"
)

// On other systems there is no fork server: spokes cannot be confined, and
// package sandbox starts its unconfined ones itself.

var errUnsupported = errors.New("no fork server on " + runtime.GOOS)

// Client is a stand-in; Start never returns one.
type Client struct{}

// Start refuses: there is no fork server on this system.
func Start(string, []string, []string, io.Writer) (*Client, error) { return nil, errUnsupported }

// Close does nothing.
func (*Client) Close() {}

// Serve exits at once: there is no fork server on this system.
func Serve() int { return 3 }

// ProcAttr is how every spoke starts: in its own process group.
func ProcAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }
