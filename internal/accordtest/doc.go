// Package accordtest is the shared test harness of Accord, modelled on
// hashicorp/raft's testing.go: the engine a node alone runs (Engine),
// regions of several replicas in one process on an in-memory network that
// can be cut and healed (Cluster), a store wrapper that injects errors and
// latency into chosen operations (FaultStore), and checks that replicas
// hold the same state and published the same events (EnsureSameState,
// EnsureSameEvents).
//
// It is for tests only. Everything it builds is the production code (the
// engine, raftstore, the stores); only the Raft transport is in memory.
package accordtest
