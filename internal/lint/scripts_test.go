package lint

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"
)

// pkgPattern matches the package patterns the scripts hand to go test
// (./core/engine/..., ./edge/rest/).
var pkgPattern = regexp.MustCompile(`(?:^|\s)\./((?:[a-z0-9_]+/)*[a-z0-9_]+)/(?:\.\.\.)?(?:\s|$)`)

// TestScriptsNameExistingPackages catches a package move that leaves the
// test script pointing at a directory that is gone: go test fails that
// pattern only when the script reaches it, deep into a CI run.
func TestScriptsNameExistingPackages(t *testing.T) {
	root := filepath.Join("..", "..")
	scripts := []string{"scripts/test.sh", ".ci/run"}
	found := 0
	for _, s := range scripts {
		b, err := os.ReadFile(filepath.Join(root, s))
		if err != nil {
			if os.IsNotExist(err) && s == ".ci/run" {
				continue
			}
			t.Fatal(err)
		}
		for _, m := range pkgPattern.FindAllStringSubmatch(string(b), -1) {
			found++
			if fi, err := os.Stat(filepath.Join(root, m[1])); err != nil || !fi.IsDir() {
				t.Errorf("%s names ./%s, which is not a directory of the module", s, m[1])
			}
		}
	}
	if found < 5 {
		t.Fatalf("found %d package patterns in %v; the pattern no longer reads the script", found, scripts)
	}
}
