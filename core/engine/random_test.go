package engine_test

import (
	"context"
	"slices"
	"testing"

	"github.com/accord-chat/accord/internal/accordtest"
	"github.com/accord-chat/accord/raftstore"
)

// TestSameCommandsSameOutcome runs one random sequence of commands on a
// region of one node, on a region of three, and on a region of three in
// which, halfway, every log is compacted into a snapshot and a fourth
// node joins from it while one of the first three leaves; the outcomes of
// the commands, the events every node published and the state every node
// holds must be the same (up to the names of IDs, which differ between
// regions that pick guild IDs in the shards their leaders lead).
func TestSameCommandsSameOutcome(t *testing.T) {
	seeds := []int64{1, 2}
	if testing.Short() {
		seeds = seeds[:1]
	}
	for _, seed := range seeds {
		w := accordtest.Workload{Seed: seed, Steps: 300}
		type run struct {
			outcomes []string
			events   string
			state    string
		}
		exec := func(members int, restore bool) run {
			opts := accordtest.Options{Members: members, Clock: goldenClock}
			if restore {
				// Snapshots leave little log behind: the new member must
				// be sent them.
				opts.Raft = func(cfg *raftstore.Config) { cfg.TrailingLogs = 4 }
			}
			c := accordtest.NewCluster(t, opts)
			at := func(step int) {
				if !restore || step != w.Steps/2 {
					return
				}
				c.WaitConverged()
				for _, m := range c.Live() {
					compacted := false
					for s := range m.Engine.Shards() {
						if err := m.Node.Snapshot(context.Background(), s); err != nil {
							t.Fatalf("%s: snapshot shard %d: %v", m.ID, s, err)
						}
						first, _, _ := m.Node.LogBounds(s)
						compacted = compacted || first > 1
					}
					if !compacted {
						t.Fatalf("%s: no shard's log was compacted", m.ID)
					}
				}
				c.AddMember()
				var follower *accordtest.Member
				for _, m := range c.Live()[:members] {
					leads := false
					for s := range m.Engine.Shards() {
						leads = leads || m.Node.IsLeader(s)
					}
					if !leads {
						follower = m
					}
				}
				if follower != nil {
					if err := c.Live()[0].Node.RemoveNode(context.Background(), follower.ID); err != nil {
						t.Fatalf("remove %s: %v", follower.ID, err)
					}
					c.Stop(follower)
				}
			}
			outcomes := w.Run(t, c.OnLeader, at)
			c.WaitConverged()
			live := c.Live()
			for _, m := range live[1:] {
				// Within a region, exactly the same stream; a member that
				// joined from a snapshot has its end.
				accordtest.EnsureSameEvents(t, live[0].Events, m.Events, true)
			}
			accordtest.EnsureSameState(t, engines(live)...)
			return run{outcomes, accordtest.CanonicalEvents(live[0].Events), accordtest.CanonicalState(t, live[0].Engine)}
		}
		one, three, restored := exec(1, false), exec(3, false), exec(3, true)
		for name, r := range map[string]run{"three nodes": three, "three nodes with a restore": restored} {
			if !slices.Equal(r.outcomes, one.outcomes) {
				for i := range min(len(r.outcomes), len(one.outcomes)) {
					if r.outcomes[i] != one.outcomes[i] {
						t.Fatalf("seed %d, %s: step %d: %s, on one node %s", seed, name, i, r.outcomes[i], one.outcomes[i])
					}
				}
			}
			if r.events != one.events {
				t.Fatalf("seed %d, %s: the events differ from one node's:\n%s", seed, name, firstDiff(one.events, r.events))
			}
			if r.state != one.state {
				t.Fatalf("seed %d, %s: the state differs from one node's:\n%s", seed, name, firstDiff(one.state, r.state))
			}
		}
	}
}

func firstDiff(a, b string) string {
	al, bl := splitLines(a), splitLines(b)
	for i := range min(len(al), len(bl)) {
		if al[i] != bl[i] {
			return "one node:   " + al[i] + "\nthis region: " + bl[i]
		}
	}
	return "one is a prefix of the other"
}

func splitLines(s string) []string {
	var out []string
	start := 0
	for i := range len(s) {
		if s[i] == '\n' {
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}
