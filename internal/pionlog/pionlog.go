// Package pionlog routes pion's logs (webrtc, ice, dtls, turn) into a
// *slog.Logger. pion logs at Error what is often a client's fault (a
// bad credential, a peer that went away), so its Error and Warn land at
// slog's Warn and Info: a node's Error lines stay for the node's own
// faults. Its chatty Info, Debug and Trace land at Debug.
package pionlog

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/pion/logging"
)

// Factory returns a pion LoggerFactory writing to log, with each
// logger's scope as the "pion" attribute.
func Factory(log *slog.Logger) logging.LoggerFactory { return factory{log} }

type factory struct{ log *slog.Logger }

func (f factory) NewLogger(scope string) logging.LeveledLogger {
	return logger{f.log.With("pion", scope)}
}

type logger struct{ l *slog.Logger }

func (l logger) at(level slog.Level, msg string) {
	if l.l.Enabled(context.Background(), level) {
		l.l.Log(context.Background(), level, msg)
	}
}

func (l logger) atf(level slog.Level, format string, args ...any) {
	if l.l.Enabled(context.Background(), level) {
		l.l.Log(context.Background(), level, fmt.Sprintf(format, args...))
	}
}

func (l logger) Trace(msg string)                  { l.at(slog.LevelDebug, msg) }
func (l logger) Tracef(format string, args ...any) { l.atf(slog.LevelDebug, format, args...) }
func (l logger) Debug(msg string)                  { l.at(slog.LevelDebug, msg) }
func (l logger) Debugf(format string, args ...any) { l.atf(slog.LevelDebug, format, args...) }
func (l logger) Info(msg string)                   { l.at(slog.LevelDebug, msg) }
func (l logger) Infof(format string, args ...any)  { l.atf(slog.LevelDebug, format, args...) }
func (l logger) Warn(msg string)                   { l.at(slog.LevelInfo, msg) }
func (l logger) Warnf(format string, args ...any)  { l.atf(slog.LevelInfo, format, args...) }
func (l logger) Error(msg string)                  { l.at(slog.LevelWarn, msg) }
func (l logger) Errorf(format string, args ...any) { l.atf(slog.LevelWarn, format, args...) }
