// Package lint holds the project's rules about its own code, written as Go
// tests so that `go test ./...` enforces them (pebble keeps its lint rules
// the same way). It has no non-test code.
package lint
