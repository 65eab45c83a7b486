package shard

import (
	"errors"
	"fmt"
)

// Of maps a key (a guild ID, or 0 for everything that belongs to no
// guild) to one of shards shards. Snowflakes are not uniform in their low
// bits (sequence numbers restart every millisecond), so the key is mixed
// with splitmix64's finalizer before the modulo. The mapping is fixed for
// a given shard count; shards must be positive.
func Of(key uint64, shards int) int {
	z := key + 0x9e3779b97f4a7c15
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	z ^= z >> 31
	return int(z % uint64(shards))
}

// Entry is a committed log entry of a shard, as the state machine is
// handed it: its position in the shard's log and the bytes proposed.
type Entry struct {
	Index uint64
	Data  []byte
}

// ErrNotLeader is wrapped by every *NotLeaderError, so callers can test
// with errors.Is and recover the leader with errors.As.
var ErrNotLeader = errors.New("not the shard's leader")

// NotLeaderError says the request must run on another node, the leader of
// its shard. Nothing was proposed, so retrying there cannot apply it
// twice. Leader is the leader's internal address, "" while the shard has
// no known leader.
type NotLeaderError struct {
	Shard  int
	Leader string
}

func (e *NotLeaderError) Error() string {
	if e.Leader == "" {
		return fmt.Sprintf("shard %d: not the leader, no leader known", e.Shard)
	}
	return fmt.Sprintf("shard %d: not the leader, leader is %s", e.Shard, e.Leader)
}

func (e *NotLeaderError) Unwrap() error { return ErrNotLeader }
