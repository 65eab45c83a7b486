package gateway

import "github.com/prometheus/client_golang/prometheus"

type metrics struct {
	connections   prometheus.Gauge
	dispatches    prometheus.Counter
	slowConsumers prometheus.Counter
	closes        *prometheus.CounterVec
	remoteResumes prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		connections: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "accord", Subsystem: "gateway", Name: "connections",
			Help: "Open gateway WebSocket connections."}),
		dispatches: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "accord", Subsystem: "gateway", Name: "dispatches_total",
			Help: "Dispatch frames queued to sessions."}),
		slowConsumers: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "accord", Subsystem: "gateway", Name: "slow_consumer_closes_total",
			Help: "Connections closed because their queue overflowed."}),
		closes: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "accord", Subsystem: "gateway", Name: "closes_total",
			Help: "Connections closed by the server, by close code."}, []string{"code"}),
		remoteResumes: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "accord", Subsystem: "gateway", Name: "remote_resumes_total",
			Help: "Sessions of another node resumed here from replicated state."}),
	}
	if reg != nil {
		reg.MustRegister(m.connections, m.dispatches, m.slowConsumers, m.closes, m.remoteResumes)
	}
	return m
}
