package sfu

import "sync/atomic"

// Meter counts what the rooms that share it forward: a node's rooms share
// one, which its metrics read. Every field is atomic; Forward adds to it
// once per incoming packet, not once per receiver.
type Meter struct {
	PacketsIn, BytesIn   atomic.Uint64 // arrived from senders
	PacketsOut, BytesOut atomic.Uint64 // written to receivers
	Withheld             atomic.Uint64 // held back (mute, deafen, no SPEAK)
	KeyFrames            atomic.Uint64 // key frame requests passed to senders
}

// discard is the meter of rooms made without one.
var discard Meter
