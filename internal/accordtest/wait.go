package accordtest

import (
	"testing"
	"time"
)

// Patience is how long the harness waits for a condition before it fails
// the test. It is generous on purpose: tests run beside each other (and
// beside CPU hogs in CI), and a wait for a condition costs nothing when
// the condition comes quickly.
const Patience = time.Minute

// WaitFor polls cond until it holds, failing the test with what after
// Patience.
func WaitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(Patience)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited %v for %s", Patience, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
