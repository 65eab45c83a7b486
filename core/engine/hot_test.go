package engine

import (
	"context"
	"encoding/json"
	"log/slog"
	"math/rand/v2"
	"testing"

	"github.com/accord-chat/accord/core/store"
)

// The hot ring must answer exactly what the store answers, whatever mix
// of creates, edits, pins, reactions and deletes came before.
func TestHotRingMatchesStore(t *testing.T) {
	st := openStore(t, t.TempDir())
	defer st.Close()
	e := newTestEngine(t, Config{Store: st, Logger: slog.New(slog.DiscardHandler)})
	ctx := context.Background()
	owner, _, _ := e.Register(ctx, "owner", "password123")
	gid, err := e.CreateGuild(ctx, owner.ID, "Guild", nil)
	if err != nil {
		t.Fatal(err)
	}
	var ch ID
	_ = e.View(gid, func(s *State) error { ch = s.Guild.SystemChannelID; return nil })

	rng := rand.New(rand.NewPCG(1, 2))
	var live []ID
	check := func(step int) {
		t.Helper()
		for _, limit := range []int{1, 7, 50, 100} {
			got, _, err := e.Messages(ctx, owner.ID, ch, store.MessageQuery{Limit: limit})
			if err != nil {
				t.Fatal(err)
			}
			want, err := st.ListMessages(ctx, ch, store.MessageQuery{Limit: limit})
			if err != nil {
				t.Fatal(err)
			}
			g, _ := json.Marshal(got)
			w, _ := json.Marshal(want)
			if string(g) != string(w) {
				t.Fatalf("step %d limit %d: hot ring differs from store\nhot   %s\nstore %s", step, limit, g, w)
			}
		}
	}
	for step := 0; step < 600; step++ {
		switch op := rng.IntN(10); {
		case op < 5 || len(live) == 0:
			ev, err := e.CreateMessage(ctx, owner.ID, ch, MessageParams{Content: "m"})
			if err != nil {
				t.Fatal(err)
			}
			live = append(live, ev.Message.ID)
		case op < 6:
			id := live[rng.IntN(len(live))]
			c := "edited"
			if _, err := e.EditMessage(ctx, owner.ID, ch, id, MessagePatch{Content: &c}); err != nil {
				t.Fatal(err)
			}
		case op < 7:
			id := live[rng.IntN(len(live))]
			if err := e.SetPinned(ctx, owner.ID, ch, id, rng.IntN(2) == 0); err != nil && err.Error() != "30003 Maximum number of pins reached for the channel (50)" {
				t.Fatal(err)
			}
		case op < 8:
			id := live[rng.IntN(len(live))]
			if err := e.AddReaction(ctx, owner.ID, ch, id, "👍"); err != nil {
				t.Fatal(err)
			}
		default:
			i := rng.IntN(len(live))
			if err := e.DeleteMessage(ctx, owner.ID, ch, live[i]); err != nil {
				t.Fatal(err)
			}
			live = append(live[:i], live[i+1:]...)
		}
		if step%7 == 0 {
			check(step)
		}
	}
	check(-1)
	// Mass deletion drains the ring below the page size: the ring must
	// fall back to the store rather than answer short.
	for len(live) > 3 {
		if err := e.DeleteMessage(ctx, owner.ID, ch, live[len(live)-1]); err != nil {
			t.Fatal(err)
		}
		live = live[:len(live)-1]
		check(-2)
	}
}
