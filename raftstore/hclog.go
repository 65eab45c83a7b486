package raftstore

import (
	"context"
	"fmt"
	"io"
	"log"
	"log/slog"

	"github.com/hashicorp/go-hclog"
)

// hclogLogger hands raft's logs to slog. Raft reports every election and
// peer change at Info, sixteen times over with sixteen shards, so only Warn
// and above pass.
type hclogLogger struct {
	log  *slog.Logger
	name string
	args []any
}

const hclogFloor = hclog.Warn

func newHCLogger(l *slog.Logger) hclog.Logger { return &hclogLogger{log: l} }

func slogLevel(l hclog.Level) slog.Level {
	switch l {
	case hclog.Trace:
		return slog.LevelDebug - 4
	case hclog.Debug:
		return slog.LevelDebug
	case hclog.Info, hclog.NoLevel:
		return slog.LevelInfo
	case hclog.Warn:
		return slog.LevelWarn
	default:
		return slog.LevelError
	}
}

func (h *hclogLogger) Log(level hclog.Level, msg string, args ...any) {
	if level == hclog.Warn && msg == "heartbeat timeout reached, starting election" && argString(args, "last-leader-id") == "" {
		// The first election of a group since the process started: every
		// shard holds one on every start, and a healthy start is quiet.
		// With a leader known before, the warning stands: it was lost.
		level = hclog.Info
	}
	if level < hclogFloor || level == hclog.Off {
		return
	}
	ctx := context.Background()
	lv := slogLevel(level)
	if !h.log.Enabled(ctx, lv) {
		return
	}
	all := make([]any, 0, len(args)+len(h.args)+2)
	all = append(all, args...)
	if h.name != "" {
		all = append(all, "component", h.name)
	}
	h.log.Log(ctx, lv, msg, append(all, h.args...)...)
}

// argString is the value of key in hclog's key-value args, as text.
func argString(args []any, key string) string {
	for i := 0; i+1 < len(args); i += 2 {
		if k, _ := args[i].(string); k == key {
			return fmt.Sprint(args[i+1])
		}
	}
	return ""
}

func (h *hclogLogger) Trace(msg string, args ...any) { h.Log(hclog.Trace, msg, args...) }
func (h *hclogLogger) Debug(msg string, args ...any) { h.Log(hclog.Debug, msg, args...) }
func (h *hclogLogger) Info(msg string, args ...any)  { h.Log(hclog.Info, msg, args...) }
func (h *hclogLogger) Warn(msg string, args ...any)  { h.Log(hclog.Warn, msg, args...) }
func (h *hclogLogger) Error(msg string, args ...any) { h.Log(hclog.Error, msg, args...) }

func (h *hclogLogger) enabled(l hclog.Level) bool {
	return l >= hclogFloor && h.log.Enabled(context.Background(), slogLevel(l))
}

func (h *hclogLogger) IsTrace() bool { return h.enabled(hclog.Trace) }
func (h *hclogLogger) IsDebug() bool { return h.enabled(hclog.Debug) }
func (h *hclogLogger) IsInfo() bool  { return h.enabled(hclog.Info) }
func (h *hclogLogger) IsWarn() bool  { return h.enabled(hclog.Warn) }
func (h *hclogLogger) IsError() bool { return h.enabled(hclog.Error) }

func (h *hclogLogger) ImpliedArgs() []any { return h.args }

func (h *hclogLogger) With(args ...any) hclog.Logger {
	c := *h
	c.args = append(append([]any(nil), h.args...), args...)
	return &c
}

func (h *hclogLogger) Name() string { return h.name }

func (h *hclogLogger) Named(name string) hclog.Logger {
	c := *h
	if c.name != "" {
		name = c.name + "." + name
	}
	c.name = name
	return &c
}

func (h *hclogLogger) ResetNamed(name string) hclog.Logger {
	c := *h
	c.name = name
	return &c
}

// SetLevel is ignored: the slog handler owns the level.
func (h *hclogLogger) SetLevel(hclog.Level) {}

func (h *hclogLogger) GetLevel() hclog.Level { return hclogFloor }

func (h *hclogLogger) StandardLogger(*hclog.StandardLoggerOptions) *log.Logger {
	return slog.NewLogLogger(h.log.Handler(), slog.LevelWarn)
}

func (h *hclogLogger) StandardWriter(opts *hclog.StandardLoggerOptions) io.Writer {
	return h.StandardLogger(opts).Writer()
}
