package lint

import (
	"bufio"
	"bytes"
	"fmt"
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/accord-chat/accord"

// rule forbids packages under from (a path relative to the module, or a
// prefix ending in "/") to import anything matched by to, for the reason
// given. A match of to is the same kind: an exact package, or a prefix.
type rule struct {
	from, to []string
	why      string
}

var rules = []rule{
	{from: []string{"core/"}, to: []string{"edge/", "raftstore", "raftstore/", "region", "region/", "turn", "turn/", "cmd/"},
		why: "core is the domain: it knows no transport, no consensus and nothing of the edge"},
	{from: []string{"core/"}, to: []string{"github.com/hashicorp/raft", "github.com/gorilla/websocket", "net/http", "github.com/quic-go/"},
		why: "core knows no transport and no consensus"},
	{from: []string{"raftstore", "raftstore/"}, to: []string{"edge/", "region", "region/", "cmd/"},
		why: "raftstore replicates; it never talks to users or other regions"},
	{from: []string{"edge/gateway"}, to: []string{"edge/rest"}, why: "the gateway and REST share edge/discord, not each other"},
	{from: []string{"edge/rest"}, to: []string{"edge/gateway"}, why: "the gateway and REST share edge/discord, not each other"},
	{from: []string{"turn", "turn/"}, to: []string{"core", "core/"}, why: "TURN stands alone"},
	{from: []string{""}, to: []string{"github.com/hashicorp/raft", "github.com/hashicorp/raft/"}, why: "raftstore is the only door to Raft"},
}

// allowed lists the packages a rule does not cover: the door itself.
var allowed = map[string][]string{
	"raftstore is the only door to Raft": {"raftstore"},
}

// match reports whether pkg (full import path) is matched by pattern, a
// path relative to the module or, for a standard or third-party package,
// a full path; a pattern ending in "/" matches everything under it.
func match(pkg, pattern string) bool {
	full := pattern
	if !strings.Contains(strings.SplitN(pattern, "/", 2)[0], ".") && pattern != "net/http" {
		if pattern == "" {
			return strings.HasPrefix(pkg, module)
		}
		full = module + "/" + pattern
	}
	if strings.HasSuffix(full, "/") {
		return strings.HasPrefix(pkg, full)
	}
	return pkg == full
}

// violations checks the import graph (package → its non-test imports).
func violations(graph map[string][]string) []string {
	var out []string
	for pkg, imports := range graph {
		for _, r := range rules {
			if !matchAny(pkg, r.from) || exempt(pkg, r.why) {
				continue
			}
			for _, imp := range imports {
				if matchAny(imp, r.to) {
					out = append(out, fmt.Sprintf("%s imports %s: %s", strings.TrimPrefix(pkg, module+"/"), imp, r.why))
				}
			}
		}
	}
	return out
}

func matchAny(pkg string, patterns []string) bool {
	for _, p := range patterns {
		if match(pkg, p) {
			return true
		}
	}
	return false
}

func exempt(pkg, why string) bool {
	for _, p := range allowed[why] {
		if match(pkg, p) {
			return true
		}
	}
	return false
}

// TestImportRules fails the build when a package imports what its layer
// must not (see rules).
func TestImportRules(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", "{{.ImportPath}} {{join .Imports \" \"}}", module+"/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	graph := map[string][]string{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		graph[f[0]] = f[1:]
	}
	if len(graph) < 10 || len(graph[module+"/core/engine"]) == 0 {
		t.Fatalf("go list found %d packages; the graph looks wrong:\n%s", len(graph), out)
	}
	for _, v := range violations(graph) {
		t.Error(v)
	}
}

// TestImportRulesCatchViolations is the rules' own check: imports each
// rule forbids are reported, and allowed ones are not.
func TestImportRulesCatchViolations(t *testing.T) {
	m := func(p string) string { return module + "/" + p }
	bad := map[string][]string{
		m("core/engine"):      {m("edge/discord")},
		m("core/store"):       {m("raftstore")},
		m("core/perm"):        {"github.com/hashicorp/raft"},
		m("core/model"):       {"net/http"},
		m("raftstore"):        {m("edge/rest")},
		m("edge/gateway"):     {m("edge/rest")},
		m("edge/rest"):        {m("edge/gateway")},
		m("turn"):             {m("core/model")},
		m("edge/node"):        {"github.com/hashicorp/raft"},
		m("core/engine/sub"):  {m("region")},
		m("raftstore/sub"):    {m("region/link")},
		m("internal/harness"): {"github.com/hashicorp/raft"},
	}
	got := violations(bad)
	for pkg, imps := range bad {
		want := strings.TrimPrefix(pkg, module+"/") + " imports " + imps[0] + ":"
		found := false
		for _, v := range got {
			found = found || strings.HasPrefix(v, want)
		}
		if !found {
			t.Errorf("no violation reported for %s importing %s", pkg, imps[0])
		}
	}
	good := map[string][]string{
		m("core/engine"):  {m("core/store"), m("core/perm"), "encoding/json"},
		m("raftstore"):    {"github.com/hashicorp/raft", m("core/snowflake")},
		m("edge/gateway"): {m("edge/discord"), m("core/engine")},
		m("edge/node"):    {m("raftstore"), m("edge/rest"), m("edge/gateway")},
		m("turn"):         {"github.com/pion/turn/v4"},
	}
	if got := violations(good); len(got) > 0 {
		t.Errorf("allowed imports reported:\n%s", strings.Join(got, "\n"))
	}
}
