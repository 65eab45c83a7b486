package accordtest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/accord-chat/accord/core/engine"
)

// Recorder is an engine.Publisher that keeps every event in the order it
// was published, with its payload rendered as JSON (so that recorders of
// two replicas compare by value).
type Recorder struct {
	mu     sync.Mutex
	events []Published
}

// Published is one recorded event.
type Published struct {
	Shard int
	Index uint64
	Type  string
	Guild engine.ID
	Data  string
	Value engine.Event
}

// Publish implements engine.Publisher.
func (r *Recorder) Publish(evs []engine.Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, ev := range evs {
		data, _ := json.Marshal(ev.Data)
		r.events = append(r.events, Published{Shard: ev.Shard, Index: ev.Index, Type: ev.Type, Guild: ev.GuildID, Data: string(data), Value: ev})
	}
}

// Events returns a copy of what was published.
func (r *Recorder) Events() []Published {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.events)
}

// Of returns the events of one type, in order.
func (r *Recorder) Of(typ string) []Published {
	var out []Published
	for _, e := range r.Events() {
		if e.Type == typ {
			out = append(out, e)
		}
	}
	return out
}

// byShard splits events by shard, each in publication order.
func byShard(evs []Published) map[int][]Published {
	out := map[int][]Published{}
	for _, e := range evs {
		out[e.Shard] = append(out[e.Shard], e)
	}
	return out
}

// EnsureSameEvents checks that two recorders hold the same events for
// every shard, in the same order, at the same log positions. A replica
// that joined late has only a suffix of another's: compare with
// suffixOK.
func EnsureSameEvents(t testing.TB, a, b *Recorder, suffixOK bool) {
	t.Helper()
	as, bs := byShard(a.Events()), byShard(b.Events())
	for _, shard := range slices.Sorted(mapKeys(as, bs)) {
		x, y := as[shard], bs[shard]
		if suffixOK {
			if len(x) > len(y) {
				x = x[len(x)-len(y):]
			} else {
				y = y[len(y)-len(x):]
			}
		}
		if len(x) != len(y) {
			t.Fatalf("shard %d: %d events against %d", shard, len(x), len(y))
		}
		for i := range x {
			if x[i].Index != y[i].Index || x[i].Type != y[i].Type || x[i].Data != y[i].Data {
				t.Fatalf("shard %d, event %d differs:\n%s %d %s\n%s %d %s", shard, i,
					x[i].Type, x[i].Index, x[i].Data, y[i].Type, y[i].Index, y[i].Data)
			}
		}
	}
}

// EnsureSameValues checks that two recorders saw the same events by type
// and payload per shard, ignoring log positions: for runs of the same
// commands on regions whose logs differ (one node against three, where
// elections add entries).
func EnsureSameValues(t testing.TB, a, b *Recorder) {
	t.Helper()
	key := func(evs []Published) []string {
		out := make([]string, len(evs))
		for i, e := range evs {
			out[i] = e.Type + " " + e.Data
		}
		return out
	}
	as, bs := byShard(a.Events()), byShard(b.Events())
	for _, shard := range slices.Sorted(mapKeys(as, bs)) {
		x, y := key(as[shard]), key(bs[shard])
		if !slices.Equal(x, y) {
			for i := range min(len(x), len(y)) {
				if x[i] != y[i] {
					t.Fatalf("shard %d: event %d differs:\n%s\n%s", shard, i, x[i], y[i])
				}
			}
			t.Fatalf("shard %d: %d events against %d", shard, len(x), len(y))
		}
	}
}

func mapKeys(ms ...map[int][]Published) func(func(int) bool) {
	return func(yield func(int) bool) {
		seen := map[int]bool{}
		for _, m := range ms {
			for k := range m {
				if !seen[k] {
					seen[k] = true
					if !yield(k) {
						return
					}
				}
			}
		}
	}
}

// State is an engine's replicated state in a canonical form: every shard's
// snapshot, with the sets in it sorted and the node's caches (hot rings)
// and bookkeeping that differs between replicas (log positions) left out.
func State(t testing.TB, e *engine.Engine) string {
	t.Helper()
	var out strings.Builder
	for s := range e.Shards() {
		var buf bytes.Buffer
		if err := e.SnapshotShard(s)(&buf); err != nil {
			t.Fatalf("snapshot shard %d: %v", s, err)
		}
		var v map[string]any
		if err := json.Unmarshal(buf.Bytes(), &v); err != nil {
			t.Fatalf("snapshot shard %d: %v", s, err)
		}
		// Caches and log positions: the state without them is what
		// every replica must agree on.
		for _, k := range []string{"rings", "applied", "watermark", "pending", "last_ts"} {
			delete(v, k)
		}
		// Inside each guild first: the guilds are then sorted by their
		// JSON, which must not depend on the order of their own sets.
		if gs, ok := v["guilds"].([]any); ok {
			for _, g := range gs {
				if gm, ok := g.(map[string]any); ok {
					sortSets(gm, "Channels", "Roles", "Members", "Bans", "Invites")
				}
			}
		}
		sortSets(v, "guilds", "users", "dms", "sessions", "voice")
		b, _ := json.MarshalIndent(v, "", " ")
		fmt.Fprintf(&out, "shard %d: %s\n", s, b)
	}
	return out.String()
}

// sortSets sorts the arrays at keys, whose order carries no meaning, by
// their elements' JSON.
func sortSets(m map[string]any, keys ...string) {
	for _, k := range keys {
		arr, ok := m[k].([]any)
		if !ok {
			continue
		}
		// Random invite codes sort nothing: the order must not depend
		// on them.
		key := func(v any) []byte {
			b, _ := json.Marshal(v)
			return codeRe.ReplaceAll(b, []byte(`"code":""`))
		}
		slices.SortFunc(arr, func(a, b any) int {
			if c := bytes.Compare(key(a), key(b)); c != 0 {
				return c
			}
			x, _ := json.Marshal(a)
			y, _ := json.Marshal(b)
			return bytes.Compare(x, y)
		})
	}
}

// EnsureSameState checks that the engines hold the same replicated state.
func EnsureSameState(t testing.TB, engines ...*engine.Engine) {
	t.Helper()
	if len(engines) < 2 {
		return
	}
	want := State(t, engines[0])
	for i, e := range engines[1:] {
		if got := State(t, e); got != want {
			t.Fatalf("engine %d's state differs from engine 0's:\n%s", i+1, diff(want, got))
		}
	}
}

// diff shows the first lines where two dumps part.
func diff(a, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	for i := range min(len(al), len(bl)) {
		if al[i] != bl[i] {
			lo, hi := max(0, i-3), min(i+4, len(al), len(bl))
			return fmt.Sprintf("at line %d:\n- %s\n+ %s", i+1, strings.Join(al[lo:hi], "\n- "), strings.Join(bl[lo:hi], "\n+ "))
		}
	}
	return fmt.Sprintf("one is a prefix of the other (%d and %d lines)", len(al), len(bl))
}

// Canonical forms, for comparing regions that ran the same commands but
// whose IDs differ (a region of three picks guild IDs in shards its
// leaders lead) and whose guilds therefore sit in other shards: every
// snowflake is replaced by its rank of first appearance and every
// timestamp by a placeholder, and events are grouped by the sequencer that
// ordered them (a guild, or the accounts) rather than by shard.

var (
	snowflakeRe = regexp.MustCompile(`\d{15,20}`)
	timeRe      = regexp.MustCompile(`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)`)
	// Invite codes are random.
	codeRe = regexp.MustCompile(`"(code|Code)":\s*"[A-Za-z0-9]+"`)
)

// canonical replaces snowflakes and times in s.
func canonical(s string) string {
	s = timeRe.ReplaceAllString(s, "<time>")
	codes := map[string]string{}
	s = codeRe.ReplaceAllStringFunc(s, func(c string) string {
		if r, ok := codes[c]; ok {
			return r
		}
		r := fmt.Sprintf(`"code":"<invite %d>"`, len(codes)+1)
		codes[c] = r
		return r
	})
	rank := map[string]string{}
	return snowflakeRe.ReplaceAllStringFunc(s, func(id string) string {
		if r, ok := rank[id]; ok {
			return r
		}
		r := fmt.Sprintf("#%d", len(rank)+1)
		rank[id] = r
		return r
	})
}

// CanonicalEvents is what a member published, per sequencer in the order
// of the sequencers' IDs, in canonical form.
func CanonicalEvents(r *Recorder) string {
	groups := map[engine.ID][]string{}
	for _, e := range r.Events() {
		groups[e.Guild] = append(groups[e.Guild], e.Type+" "+e.Data)
	}
	var out strings.Builder
	for _, g := range slices.Sorted(func(yield func(engine.ID) bool) {
		for k := range groups {
			if !yield(k) {
				return
			}
		}
	}) {
		fmt.Fprintf(&out, "sequencer %d\n", g)
		for _, line := range groups[g] {
			out.WriteString(line + "\n")
		}
	}
	return canonical(out.String())
}

// CanonicalState is the engine's replicated state across all shards, in
// canonical form.
func CanonicalState(t testing.TB, e *engine.Engine) string {
	t.Helper()
	all := map[string][]any{}
	presence := []any{}
	for s := range e.Shards() {
		var buf bytes.Buffer
		if err := e.SnapshotShard(s)(&buf); err != nil {
			t.Fatalf("snapshot shard %d: %v", s, err)
		}
		var v map[string]any
		if err := json.Unmarshal(buf.Bytes(), &v); err != nil {
			t.Fatalf("snapshot shard %d: %v", s, err)
		}
		for _, k := range []string{"guilds", "users", "dms", "sessions", "voice"} {
			if arr, ok := v[k].([]any); ok {
				all[k] = append(all[k], arr...)
			}
		}
		if p, ok := v["presence"].(map[string]any); ok {
			// Which log entry set a presence is a log position: it
			// differs between regions.
			if byUser, ok := p["by_user"].(map[string]any); ok {
				for _, nodes := range byUser {
					if nm, ok := nodes.(map[string]any); ok {
						for _, entry := range nm {
							if em, ok := entry.(map[string]any); ok {
								delete(em, "i")
							}
						}
					}
				}
			}
			presence = append(presence, p)
		}
	}
	m := map[string]any{"presence": presence}
	for k, arr := range all {
		m[k] = arr
	}
	sortSets(m, "guilds", "users", "dms", "sessions", "voice")
	if gs, ok := m["guilds"].([]any); ok {
		for _, g := range gs {
			if gm, ok := g.(map[string]any); ok {
				sortSets(gm, "Channels", "Roles", "Members", "Bans", "Invites")
			}
		}
	}
	b, _ := json.MarshalIndent(m, "", " ")
	return canonical(string(b))
}
