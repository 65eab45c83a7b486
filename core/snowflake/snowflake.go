package snowflake

import (
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"
)

// Epoch is Discord's epoch in Unix milliseconds (2015-01-01T00:00:00Z).
const Epoch int64 = 1420070400000

const (
	incrementBits = 12
	processBits   = 5
	workerBits    = 5
	maxIncrement  = 1<<incrementBits - 1
)

// ErrInvalid is returned for text that is not a snowflake.
var ErrInvalid = errors.New("invalid snowflake")

// ID is a snowflake. The zero value means "none".
type ID uint64

// FromTime returns the smallest ID that could have been made at t. Useful as
// a pagination bound ("messages after this time").
func FromTime(t time.Time) ID {
	ms := t.UnixMilli() - Epoch
	if ms < 0 {
		return 0
	}
	return ID(uint64(ms) << (incrementBits + processBits + workerBits))
}

// Time is when the ID was made, to the millisecond.
func (id ID) Time() time.Time {
	return time.UnixMilli(int64(id>>22) + Epoch).UTC()
}

// Worker returns the worker bits.
func (id ID) Worker() uint8 { return uint8(id>>17) & 0x1f }

// Process returns the process bits.
func (id ID) Process() uint8 { return uint8(id>>12) & 0x1f }

// Increment returns the per-millisecond sequence bits.
func (id ID) Increment() uint16 { return uint16(id) & maxIncrement }

func (id ID) String() string { return strconv.FormatUint(uint64(id), 10) }

// MarshalJSON writes the ID as a decimal string; zero is written as null so
// optional IDs ("parent_id": null) need no pointer.
func (id ID) MarshalJSON() ([]byte, error) {
	if id == 0 {
		return []byte("null"), nil
	}
	b := make([]byte, 0, 22)
	b = append(b, '"')
	b = strconv.AppendUint(b, uint64(id), 10)
	return append(b, '"'), nil
}

// UnmarshalJSON accepts a decimal string, a bare number (some libraries send
// those) or null.
func (id *ID) UnmarshalJSON(b []byte) error {
	s := string(b)
	if s == "null" {
		*id = 0
		return nil
	}
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		s = s[1 : len(s)-1]
	}
	v, err := Parse(s)
	if err != nil {
		return err
	}
	*id = v
	return nil
}

// Parse reads a decimal snowflake. Empty strings, signs, spaces and values
// that overflow 64 bits are rejected.
func Parse(s string) (ID, error) {
	if s == "" || len(s) > 20 {
		return 0, fmt.Errorf("%w: %q", ErrInvalid, truncate(s))
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, fmt.Errorf("%w: %q", ErrInvalid, truncate(s))
		}
	}
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: %q", ErrInvalid, truncate(s))
	}
	return ID(v), nil
}

func truncate(s string) string {
	if len(s) > 32 {
		return s[:32] + "…"
	}
	return s
}

// Generator makes IDs for one worker/process pair. It is safe for
// concurrent use.
type Generator struct {
	mu     sync.Mutex
	node   uint64 // worker<<17 | process<<12
	lastMs int64
	inc    uint64
	now    func() time.Time
}

// NewGenerator returns a generator for the given worker and process (each
// 0–31).
func NewGenerator(worker, process uint8) *Generator {
	return &Generator{
		node: uint64(worker&0x1f)<<17 | uint64(process&0x1f)<<12,
		now:  time.Now,
	}
}

// NewGeneratorWithClock is NewGenerator with a clock of the caller's: tests
// that need the same IDs in two runs give it one that does not move.
func NewGeneratorWithClock(worker, process uint8, now func() time.Time) *Generator {
	g := NewGenerator(worker, process)
	g.now = now
	return g
}

// Next returns a new ID, strictly greater than every ID this generator
// returned before. When the clock goes backwards the generator keeps using
// its last timestamp; when 4096 IDs were made in one millisecond it borrows
// the next millisecond rather than waiting.
func (g *Generator) Next() ID {
	g.mu.Lock()
	defer g.mu.Unlock()
	ms := g.now().UnixMilli() - Epoch
	if ms < 0 {
		ms = 0
	}
	if ms > g.lastMs {
		g.lastMs = ms
		g.inc = 0
	} else {
		g.inc++
		if g.inc > maxIncrement {
			g.lastMs++
			g.inc = 0
		}
	}
	return ID(uint64(g.lastMs)<<22 | g.node | g.inc)
}

// Observe moves the generator forward past id, so that a restarted node
// never issues an ID lower than one it issued before the restart (the clock
// may have stepped back while it was down).
func (g *Generator) Observe(id ID) {
	g.mu.Lock()
	defer g.mu.Unlock()
	ms := int64(id >> 22)
	if ms > g.lastMs {
		g.lastMs = ms
		g.inc = uint64(id.Increment())
	} else if ms == g.lastMs && uint64(id.Increment()) > g.inc {
		g.inc = uint64(id.Increment())
	}
}
