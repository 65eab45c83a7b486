package shard

import (
	"errors"
	"fmt"
	"testing"
)

func TestOfSpreadsSnowflakes(t *testing.T) {
	// Snowflakes of one millisecond differ only in their low bits; they
	// must still spread over every shard.
	const shards = 16
	seen := map[int]int{}
	base := uint64(1300000000000000000)
	for i := range uint64(4096) {
		s := Of(base+i, shards)
		if s < 0 || s >= shards {
			t.Fatalf("Of(%d) = %d, outside [0, %d)", base+i, s, shards)
		}
		seen[s]++
	}
	for s := range shards {
		if seen[s] < 4096/shards/2 {
			t.Errorf("shard %d got %d of 4096 consecutive keys", s, seen[s])
		}
	}
	if Of(42, shards) != Of(42, shards) {
		t.Error("Of is not a function of its arguments")
	}
}

func TestNotLeaderError(t *testing.T) {
	err := fmt.Errorf("create guild: %w", &NotLeaderError{Shard: 3, Leader: "10.0.0.2:9200"})
	var nl *NotLeaderError
	if !errors.Is(err, ErrNotLeader) || !errors.As(err, &nl) || nl.Leader != "10.0.0.2:9200" {
		t.Errorf("errors.Is/As on %v: leader %+v", err, nl)
	}
}
