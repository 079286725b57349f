package cli

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestReadmePackagesMatchTree: README's Packages table names every package
// of the module and nothing that is not there. In a row, a backticked path
// names a folder; a bare name after it names a folder inside the row's
// first one (`core/state` and `bolt`); in a row whose first folder ends in
// "/", the owns column's bare names are its subfolders (`apps/`: `ride`).
func TestReadmePackagesMatchTree(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(readme), "\n## Packages\n")
	if !ok {
		t.Fatal("README has no Packages section")
	}
	section, _, _ = strings.Cut(section, "\n## ")
	tick := regexp.MustCompile("`([^`]+)`")
	named := map[string]bool{}
	trees := map[string]bool{}
	for _, line := range strings.Split(section, "\n") {
		cells := strings.Split(line, "|")
		if len(cells) < 4 || strings.HasPrefix(strings.TrimSpace(cells[1]), "---") {
			continue
		}
		base, tree := "", false
		for _, m := range tick.FindAllStringSubmatch(cells[1], -1) {
			tok := m[1]
			switch {
			case strings.Contains(tok, "/"):
				p := strings.TrimSuffix(tok, "/")
				if base == "" {
					base, tree = p, strings.HasSuffix(tok, "/")
				}
				if strings.HasSuffix(tok, "/") {
					trees[p] = true
				}
				named[p] = true
			case base != "":
				named[base+"/"+tok] = true
			}
		}
		if tree {
			for _, m := range tick.FindAllStringSubmatch(cells[2], -1) {
				if !strings.ContainsAny(m[1], " .") {
					if st, err := os.Stat(filepath.Join("..", base, m[1])); err == nil && st.IsDir() {
						named[base+"/"+m[1]] = true
					}
				}
			}
		}
	}
	out, err := exec.Command("go", "list", "../...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, p := range strings.Fields(string(out)) {
		rel := strings.TrimPrefix(strings.TrimPrefix(p, "github.com/secgpt-go/secgpt"), "/")
		if rel == "" || named[rel] {
			continue
		}
		t.Errorf("README's Packages table does not name %s", rel)
	}
	for p := range named {
		if st, err := os.Stat(filepath.Join("..", p)); err != nil || !st.IsDir() {
			t.Errorf("README's Packages table names %s, which is not a folder", p)
		}
	}
	if len(trees) == 0 {
		t.Error("no folder rows read: the table's shape changed")
	}
}
