// Package region will hold region topology and the QUIC links between
// regions (docs/architecture.md, "Regions"). Nothing is implemented yet:
// today Accord runs as a single region.
package region
