// Package node assembles one edge node from its parts — store, guild
// engine, REST API, metrics — and runs its HTTP server until the context
// ends. cmd/accord and the end-to-end tests both start nodes through it,
// so what the tests run is what operators run.
package node
