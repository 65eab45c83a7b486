package snowflake

import (
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"
)

func TestKnownDiscordID(t *testing.T) {
	// Example from Discord's reference docs.
	id, err := Parse("175928847299117063")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := id.Time().UnixMilli(), int64(1462015105796); got != want {
		t.Errorf("time = %d, want %d", got, want)
	}
	if id.Worker() != 1 || id.Process() != 0 || id.Increment() != 7 {
		t.Errorf("fields = %d/%d/%d, want 1/0/7", id.Worker(), id.Process(), id.Increment())
	}
}

func TestParseRejects(t *testing.T) {
	for _, s := range []string{"", "-1", "+1", " 1", "1 ", "abc", "1.5", "18446744073709551616", "123456789012345678901"} {
		if _, err := Parse(s); !errors.Is(err, ErrInvalid) {
			t.Errorf("Parse(%q) err = %v, want ErrInvalid", s, err)
		}
	}
	if id, err := Parse("18446744073709551615"); err != nil || id != ^ID(0) {
		t.Errorf("max uint64: %v %v", id, err)
	}
}

func TestJSON(t *testing.T) {
	var v struct {
		A ID `json:"a"`
		B ID `json:"b"`
		C ID `json:"c"`
	}
	if err := json.Unmarshal([]byte(`{"a":"42","b":43,"c":null}`), &v); err != nil {
		t.Fatal(err)
	}
	if v.A != 42 || v.B != 43 || v.C != 0 {
		t.Fatalf("got %+v", v)
	}
	out, _ := json.Marshal(v)
	if string(out) != `{"a":"42","b":"43","c":null}` {
		t.Fatalf("marshal = %s", out)
	}
	if err := json.Unmarshal([]byte(`{"a":"x1"}`), &v); err == nil {
		t.Fatal("want error for bad id")
	}
}

func TestMonotonicWhenClockStepsBack(t *testing.T) {
	g := NewGenerator(3, 4)
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	g.now = func() time.Time { return now }
	var last ID
	for i := 0; i < 20000; i++ {
		switch i {
		case 5000:
			now = now.Add(-time.Hour) // NTP step backwards
		case 12000:
			now = now.Add(2 * time.Hour)
		}
		id := g.Next()
		if id <= last {
			t.Fatalf("id %d at step %d not greater than %d", id, i, last)
		}
		if id.Worker() != 3 || id.Process() != 4 {
			t.Fatalf("worker/process lost: %d/%d", id.Worker(), id.Process())
		}
		last = id
	}
}

func TestObserveAfterRestart(t *testing.T) {
	g := NewGenerator(0, 0)
	future := FromTime(time.Now().Add(time.Hour)) | 99
	g.Observe(future)
	if id := g.Next(); id <= future {
		t.Fatalf("next %d <= observed %d", id, future)
	}
}

func TestConcurrentUnique(t *testing.T) {
	g := NewGenerator(1, 1)
	const workers, each = 8, 5000
	var mu sync.Mutex
	seen := make(map[ID]bool, workers*each)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ids := make([]ID, each)
			for i := range ids {
				ids[i] = g.Next()
				if i > 0 && ids[i] <= ids[i-1] {
					t.Errorf("not increasing within goroutine")
				}
			}
			mu.Lock()
			for _, id := range ids {
				if seen[id] {
					t.Errorf("duplicate %d", id)
				}
				seen[id] = true
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"0", "175928847299117063", "18446744073709551615", "-1", "", "9999999999999999999999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		id, err := Parse(s)
		if err != nil {
			return
		}
		// Round trip: a parsed ID prints back to the same digits, minus
		// leading zeros.
		back, err := Parse(id.String())
		if err != nil || back != id {
			t.Fatalf("round trip %q -> %d -> %v %v", s, id, back, err)
		}
		var j ID
		b, _ := json.Marshal(id)
		if err := json.Unmarshal(b, &j); err != nil || j != id {
			t.Fatalf("json round trip %q: %v", s, err)
		}
	})
}

func BenchmarkNext(b *testing.B) {
	g := NewGenerator(0, 0)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		g.Next()
	}
}
