package main

import (
	"encoding/binary"
	"testing"
)

// TestFloorScanSplitsPayloads: one latency per payload whatever way the
// reads cut the byte stream, timestamps read across read boundaries.
func TestFloorScanSplitsPayloads(t *testing.T) {
	const size = 20
	stream := make([]byte, 0, 3*size)
	for i := range 3 {
		p := make([]byte, size)
		binary.LittleEndian.PutUint64(p, uint64(1000*(i+1))) // sent at 1, 2, 3 µs
		stream = append(stream, p...)
	}
	for _, cuts := range [][]int{
		{60},             // everything in one read
		{20, 40},         // one payload a read
		{3, 11, 25, 59},  // timestamps cut in two
		{1, 2, 3, 4, 5},  // byte by byte at first
		{8, 28, 48, 59},  // cut right after each timestamp
		{19, 21, 39, 41}, // cut around payload ends
	} {
		conns := map[int]*floorConn{}
		var lat []int32
		prev := 0
		for _, cut := range append(cuts, len(stream)) {
			lat = floorScan(conns, lat, stream[prev:cut], 7, size, 10_000)
			prev = cut
		}
		want := []int32{9, 8, 7} // (10,000 − sent) ns in µs
		if len(lat) != len(want) {
			t.Fatalf("cuts %v: %d latencies, want %d", cuts, len(lat), len(want))
		}
		for i := range want {
			if lat[i] != want[i] {
				t.Fatalf("cuts %v: latencies %v, want %v", cuts, lat, want)
			}
		}
	}
}
