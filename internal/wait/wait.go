// Package wait is the tests' one way to wait for a condition. It imports
// nothing of Accord, so that the tests inside any package (core/engine's
// own included, which internal/accordtest cannot serve) can use it;
// accordtest.WaitFor is the same wait.
package wait

import (
	"testing"
	"time"
)

// Patience is how long a test waits for something that should happen
// promptly. It is generous on purpose: tests run beside each other (and
// beside CPU hogs in CI), and a wait for a condition costs nothing when
// the condition comes quickly.
const Patience = time.Minute

// For polls cond until it holds, failing the test with what after
// Patience.
func For(t testing.TB, what string, cond func() bool) {
	t.Helper()
	Every(t, what, 5*time.Millisecond, cond)
}

// Every is For with a pause of every between polls, for conditions that
// cost the system under test something to check (a REST request counts
// against the caller's rate limit; For's 5 ms polls would exceed it).
func Every(t testing.TB, what string, every time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(Patience)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited %v for %s", Patience, what)
		}
		time.Sleep(every)
	}
}
