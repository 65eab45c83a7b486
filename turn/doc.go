// Package turn will run the TURN server (pion/turn) that voice clients use
// to reach the SFU. Nothing is implemented yet.
package turn
