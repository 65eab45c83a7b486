package engine_test

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/accord-chat/accord/core/engine"
	sh "github.com/accord-chat/accord/core/shard"
	"github.com/accord-chat/accord/internal/accordtest"
)

var updateGolden = flag.Bool("update-golden", false, "write testdata/entries/v<current>-*.entry from a workload's real log entries")

// goldenClock stands still, so that regenerated entries differ from the
// committed ones only where the format changed.
func goldenClock() time.Time { return time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC) }

// recordEntries runs a workload on one node and returns its committed
// entries, one of each shape (kind, event types and payload types).
func recordEntries(t *testing.T) map[string][]byte {
	var mu sync.Mutex
	out := map[string][]byte{}
	c := accordtest.NewCluster(t, accordtest.Options{Members: 1, Clock: goldenClock,
		Tap: func(_ string, _ int, es []sh.Entry) {
			mu.Lock()
			defer mu.Unlock()
			for _, e := range es {
				name := shapeOf(e.Data)
				if _, ok := out[name]; !ok {
					out[name] = append([]byte(nil), e.Data...)
				}
			}
		}})
	accordtest.Workload{Seed: 7, Steps: 400}.Run(t, c.OnLeader, nil)
	goldenTail(t, c.Members[0].Engine)
	c.WaitConverged()
	return out
}

// goldenTail makes the entries a short workload may miss: every kind and
// every payload.
func goldenTail(t *testing.T, e *engine.Engine) {
	ctx := t.Context()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	u, _, err := e.Register(ctx, "golden", "correct horse battery staple")
	must(err)
	other, _, err := e.Register(ctx, "golden2", "correct horse battery staple")
	must(err)
	name := "golden_renamed"
	_, _, err = e.ModifyUser(ctx, u.ID, engine.UserPatch{Username: &name})
	must(err)
	gid, err := e.CreateGuild(ctx, u.ID, "golden", nil)
	must(err)
	rname := "doomed"
	r, err := e.CreateRole(ctx, u.ID, gid, engine.RolePatch{Name: &rname})
	must(err)
	must(e.DeleteRole(ctx, u.ID, gid, r.ID))
	c, err := e.CreateChannel(ctx, u.ID, gid, engine.ChannelParams{Name: "temp"})
	must(err)
	topic := "a topic"
	tp := &topic
	_, err = e.ModifyChannel(ctx, u.ID, c.ID, engine.ChannelPatch{Topic: &tp})
	must(err)
	inv, err := e.CreateInvite(ctx, u.ID, c.ID, engine.InviteParams{})
	must(err)
	_, err = e.AcceptInvite(ctx, other.ID, inv.Code)
	must(err)
	_, err = e.DeleteInvite(ctx, u.ID, inv.Code)
	must(err)
	ev, err := e.CreateMessage(ctx, u.ID, c.ID, engine.MessageParams{Content: "golden"})
	must(err)
	must(e.AddReaction(ctx, other.ID, c.ID, ev.Message.ID, "👍"))
	must(e.RemoveReaction(ctx, other.ID, c.ID, ev.Message.ID, "👍", other.ID))
	must(e.AddReaction(ctx, other.ID, c.ID, ev.Message.ID, "🔥"))
	must(e.ClearReactions(ctx, u.ID, c.ID, ev.Message.ID, "🔥"))
	_, err = e.DeleteChannel(ctx, u.ID, c.ID)
	must(err)
	must(e.NodeAlive(ctx, "node-a", ""))
	must(e.ReplicateSessions(ctx, engine.SessionUpdate{Open: []engine.SessionRecord{
		{ID: "golden-session", UserID: u.ID, Node: "node-a", Guilds: []engine.ID{gid}, Anchor: make([]uint64, e.Shards())}}}))
	must(e.ReplicateSessions(ctx, engine.SessionUpdate{Close: []string{"golden-session"}}))
	must(e.DeleteGuild(ctx, u.ID, gid))
}

// shapeOf names an entry by what it holds, for its golden file.
func shapeOf(data []byte) string {
	var v struct {
		K  int `json:"k"`
		Ev []struct {
			T  string `json:"t"`
			DT string `json:"dt"`
		} `json:"ev"`
	}
	body := data
	if len(data) > 2 && data[0] != '{' {
		body = data[2:]
	}
	_ = json.Unmarshal(body, &v)
	parts := []string{fmt.Sprintf("k%d", v.K)}
	var evs []string
	for _, e := range v.Ev {
		evs = append(evs, strings.ToLower(e.T)+"."+e.DT)
	}
	sort.Strings(evs)
	return strings.Join(append(parts, evs...), "-")
}

// TestGoldenEntries: the entries of every format version this binary
// ever wrote still decode, with typed payloads; entries of the current
// version re-encode to the same bytes (the format is stable); and every
// shape of entry the code writes today has a golden of the current
// version, so a new kind or payload cannot ship without one. To add one
// (or, after a format change with entryVersion bumped, a new set):
//
//	go test ./core/engine/ -run TestGoldenEntries -update-golden
func TestGoldenEntries(t *testing.T) {
	current := fmt.Sprintf("v%d-", engine.EntryVersion)
	if *updateGolden {
		for name, data := range recordEntries(t) {
			p := filepath.Join("testdata", "entries", current+name+".entry")
			if _, err := os.Stat(p); err == nil {
				continue // a golden is never rewritten: it is what old logs hold
			}
			if err := os.WriteFile(p, data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	files, err := filepath.Glob(filepath.Join("testdata", "entries", "*.entry"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden entries: %v", err)
	}
	have := map[string]bool{}
	versions := map[string]int{}
	for _, f := range files {
		base := filepath.Base(f)
		version, name, _ := strings.Cut(strings.TrimSuffix(base, ".entry"), "-")
		versions[version]++
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		_, events, err := engine.DecodeEntry(data)
		if err != nil {
			t.Errorf("%s: %v", base, err)
			continue
		}
		for _, ev := range events {
			if _, untyped := ev.Data.(map[string]any); untyped {
				t.Errorf("%s: event %s decoded with an untyped payload", base, ev.Type)
			}
		}
		if strings.HasPrefix(base, current) {
			have[name] = true
			again, err := engine.ReencodeEntry(data)
			if err != nil || string(again) != string(data) {
				t.Errorf("%s: re-encoded differently (%v):\n%s\n%s", base, err, data, again)
			}
		}
	}
	if versions["v0"] == 0 || versions[strings.TrimSuffix(current, "-")] == 0 {
		t.Errorf("golden entries by version: %v; want version 0 and the current one", versions)
	}
	for name := range recordEntries(t) {
		if !have[name] {
			t.Errorf("entries of shape %s are written but have no golden of version %d (run with -update-golden)", name, engine.EntryVersion)
		}
	}
}
