package turn

import "github.com/prometheus/client_golang/prometheus"

type metrics struct {
	allocations   prometheus.Gauge
	authFailures  prometheus.Counter
	quotaRefusals prometheus.Counter
	peerRefusals  prometheus.Counter
	relayed       prometheus.Counter
	dropped       prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		allocations: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "accord", Subsystem: "turn", Name: "allocations",
			Help: "Live TURN allocations."}),
		authFailures: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "accord", Subsystem: "turn", Name: "auth_failures_total",
			Help: "TURN requests refused for a missing, expired or forged credential."}),
		quotaRefusals: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "accord", Subsystem: "turn", Name: "quota_refusals_total",
			Help: "Allocations refused because the user held the maximum."}),
		peerRefusals: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "accord", Subsystem: "turn", Name: "peer_refusals_total",
			Help: "Permissions refused for a loopback, private or otherwise non-public peer."}),
		relayed: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "accord", Subsystem: "turn", Name: "relayed_bytes_total",
			Help: "Bytes relayed between clients and peers, both ways."}),
		dropped: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "accord", Subsystem: "turn", Name: "dropped_packets_total",
			Help: "Relayed datagrams dropped over an allocation's bandwidth cap."}),
	}
	return m
}

// register is called once the server is up: a New that failed (a port
// in use) must leave nothing registered for the retry to collide with.
func (m *metrics) register(reg prometheus.Registerer) {
	if reg != nil {
		reg.MustRegister(m.allocations, m.authFailures, m.quotaRefusals, m.peerRefusals, m.relayed, m.dropped)
	}
}
