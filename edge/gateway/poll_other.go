//go:build !linux

package gateway

import (
	"errors"
	"syscall"
)

// Off Linux there is no poller: every connection has a reader goroutine
// (readLoop), and every write is a writer goroutine's (flush).
const canPoll = false

type poller struct{}

var errNoPoller = errors.New("gateway: readiness-driven reads need Linux")

func newPoller() (*poller, error)                   { return nil, errNoPoller }
func (p *poller) add(*conn) error                   { return errNoPoller }
func (p *poller) rearm(*conn) error                 { return errNoPoller }
func (p *poller) forget(*conn)                      {}
func (p *poller) run(*Server)                       {}
func (p *poller) close()                            {}
func readSome(syscall.RawConn, []byte) (int, error) { return 0, errNoPoller }

type rawWriter struct{}

func newRawWriter() *rawWriter                                  { return &rawWriter{} }
func (w *rawWriter) write(syscall.RawConn, []byte) (int, error) { return 0, errNoPoller }
