package accordtest

import (
	"testing"

	"github.com/accord-chat/accord/internal/wait"
)

// Patience is how long the harness waits for a condition before it fails
// the test (see package wait).
const Patience = wait.Patience

// WaitFor polls cond until it holds, failing the test with what after
// Patience.
func WaitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	wait.For(t, what, cond)
}
