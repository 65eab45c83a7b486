package main

import (
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestHealthyStartIsQuiet: a node alone, started fresh and again on its
// data, at the default log level logs nothing above INFO, and one INFO
// line at start, saying where it listens and where its data is.
func TestHealthyStartIsQuiet(t *testing.T) {
	bin := accordBinary(t)
	data := t.TempDir()
	for _, run := range []string{"fresh", "restart"} {
		p := startAccord(t, bin, data, "--log-level", "info")
		// Let the shards' first elections and the store's start-up
		// housekeeping finish before judging the log.
		time.Sleep(time.Second)
		if st := p.signal(syscall.SIGTERM, 30*time.Second); st.ExitCode() != 0 {
			t.Fatalf("%s: exit after SIGTERM: %v", run, st)
		}
		var infos []string
		for _, line := range strings.Split(strings.TrimSpace(p.stderr.String()), "\n") {
			switch {
			case strings.Contains(line, "level=INFO"):
				infos = append(infos, line)
			case strings.Contains(line, "level=DEBUG"):
			default:
				t.Errorf("%s: logged above INFO: %s", run, line)
			}
		}
		if len(infos) != 2 || !strings.Contains(infos[0], `msg="accord serving"`) || !strings.Contains(infos[0], "listen=127.0.0.1:") ||
			!strings.Contains(infos[0], "data="+data) || !strings.Contains(infos[1], `msg="accord stopped"`) {
			t.Errorf("%s: INFO lines %q, want one saying where Accord listens and its data is, then one when it stopped", run, infos)
		}
	}
}
