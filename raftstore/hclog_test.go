package raftstore

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
)

// TestHCLogAdapter: raft's Info chatter is dropped, warnings reach slog
// with their attributes and the logger's name.
func TestHCLogAdapter(t *testing.T) {
	var buf bytes.Buffer
	l := newHCLogger(slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})))
	l = l.Named("raft").With("shard", 3)
	l.Info("entering follower state")
	l.Warn("heartbeat timeout", "peer", "n2")
	out := buf.String()
	if strings.Contains(out, "follower") {
		t.Errorf("Info passed: %s", out)
	}
	for _, want := range []string{"level=WARN", "heartbeat timeout", "peer=n2", "shard=3", "component=raft"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q: %s", want, out)
		}
	}
	if l.IsInfo() || !l.IsWarn() {
		t.Error("IsInfo/IsWarn disagree with the floor")
	}
}
