package cli

import (
	"bytes"
	"encoding/json"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// claimRE finds the sentence of a package doc that says who may import the
// package: "Only cli/, apps/standard and tests import it." or "Imported by
// core/hub, core/spoke and tests."
var claimRE = regexp.MustCompile(`(?s)(?:\bOnly\s+(.+?)\s+imports?\s+(?:it|this package)\b|\bImported\s+(?:only\s+)?by\s+(.+?)\.(?:\s|$))`)

// claimPathRE picks the module paths out of a claim: "core/hub", "cli/",
// "packages under apps/". A trailing slash on a top-level folder, or
// "under", means the whole subtree.
var claimPathRE = regexp.MustCompile(`\b(?:cli|cmd|core|ops|apps|adapters|sandbox|evaluation|config)(?:/[a-z0-9_-]+)*/?`)

// importClaim is what one package's doc says of its importers.
type importClaim struct {
	text  string
	tests bool     // test files anywhere may import it
	exact []string // these packages may import it
	trees []string // packages under these folders may import it
}

func (c importClaim) allows(pkg string) bool {
	for _, e := range c.exact {
		if pkg == e {
			return true
		}
	}
	for _, t := range c.trees {
		if pkg == t || strings.HasPrefix(pkg, t+"/") {
			return true
		}
	}
	return false
}

// parseClaim reads the import claim out of a package doc, if it makes one.
func parseClaim(doc string) (importClaim, bool) {
	m := claimRE.FindStringSubmatch(doc)
	if m == nil {
		return importClaim{}, false
	}
	text := m[1] + m[2]
	c := importClaim{text: strings.Join(strings.Fields(text), " ")}
	c.tests = regexp.MustCompile(`\btests?\b`).MatchString(text)
	if strings.Contains(text, "the evaluation") {
		c.trees = append(c.trees, "evaluation")
	}
	if strings.Contains(text, "the wiring") {
		c.exact = append(c.exact, "cli")
	}
	for _, p := range claimPathRE.FindAllString(text, -1) {
		name := strings.TrimSuffix(p, "/")
		under := strings.Contains(text, "under "+p)
		if under || (strings.HasSuffix(p, "/") && !strings.Contains(name, "/") && name != "cli") {
			c.trees = append(c.trees, name)
		} else {
			c.exact = append(c.exact, name)
		}
	}
	return c, true
}

func TestParseClaim(t *testing.T) {
	tests := []struct {
		name  string
		doc   string
		ok    bool
		tests bool
		allow []string
		deny  []string
	}{
		{"none", "Package x does things.", false, false, nil, nil},
		{"only cli", "Package x.\n\nOnly cli/ imports it.", true, false, []string{"cli"}, []string{"cli/x", "core/hub"}},
		{"subtree", "Only packages under apps/ import it.", true, false, []string{"apps/mail", "apps"}, []string{"core/hub"}},
		{"evaluation", "Only apps/standard, tests and the evaluation import this package.", true, true,
			[]string{"apps/standard", "evaluation/casestudy"}, []string{"apps/mail", "cli"}},
		{"imported by", "Imported by core/hub (the hub side), core/spoke (the spoke side) and tests.", true, true,
			[]string{"core/hub", "core/spoke"}, []string{"core/hubtest"}},
		{"top folder", "Only cli/ wiring, evaluation/ and tests import it.", true, true,
			[]string{"cli", "evaluation/invariants"}, []string{"core/hub"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, ok := parseClaim(tt.doc)
			if ok != tt.ok || c.tests != tt.tests {
				t.Fatalf("parseClaim(%q) = %+v, %v; want ok %v, tests %v", tt.doc, c, ok, tt.ok, tt.tests)
			}
			for _, p := range tt.allow {
				if !c.allows(p) {
					t.Errorf("%q does not allow %s", tt.doc, p)
				}
			}
			for _, p := range tt.deny {
				if c.allows(p) {
					t.Errorf("%q allows %s", tt.doc, p)
				}
			}
		})
	}
}

// TestImportClaims: a package doc that says who imports the package is
// true. Claims written as prose drift as the tree changes; this keeps them
// honest. Test files count as "tests".
func TestImportClaims(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list over the module")
	}
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("go", "list", "-e", "-json=ImportPath,Dir,GoFiles,Imports,TestImports,XTestImports", "./...")
	cmd.Dir = root
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("go list: %v", err)
	}
	type pkg struct {
		ImportPath, Dir                    string
		GoFiles                            []string
		Imports, TestImports, XTestImports []string
	}
	var pkgs []pkg
	dec := json.NewDecoder(&out)
	for dec.More() {
		var p pkg
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		pkgs = append(pkgs, p)
	}
	const module = "github.com/secgpt-go/secgpt"
	rel := func(path string) string { return strings.TrimPrefix(strings.TrimPrefix(path, module), "/") }
	importers := map[string]map[string]bool{} // package -> importer -> from tests only
	for _, p := range pkgs {
		for _, imp := range p.Imports {
			if importers[imp] == nil {
				importers[imp] = map[string]bool{}
			}
			importers[imp][rel(p.ImportPath)] = false
		}
		for _, imp := range append(append([]string(nil), p.TestImports...), p.XTestImports...) {
			if importers[imp] == nil {
				importers[imp] = map[string]bool{}
			}
			if _, ok := importers[imp][rel(p.ImportPath)]; !ok {
				importers[imp][rel(p.ImportPath)] = true
			}
		}
	}
	claims := 0
	for _, p := range pkgs {
		var doc string
		for _, f := range p.GoFiles {
			af, err := parser.ParseFile(token.NewFileSet(), filepath.Join(p.Dir, f), nil, parser.PackageClauseOnly|parser.ParseComments)
			if err != nil {
				t.Fatal(err)
			}
			if af.Doc != nil {
				doc = af.Doc.Text()
			}
		}
		c, ok := parseClaim(doc)
		if !ok {
			continue
		}
		claims++
		var wrong []string
		for imp, testOnly := range importers[p.ImportPath] {
			if imp == rel(p.ImportPath) || c.allows(imp) || (testOnly && c.tests) {
				continue
			}
			what := imp
			if testOnly {
				what += " (tests)"
			}
			wrong = append(wrong, what)
		}
		sort.Strings(wrong)
		if len(wrong) > 0 {
			t.Errorf("%s says %q import it, but so do %s", rel(p.ImportPath), c.text, strings.Join(wrong, ", "))
		}
	}
	if claims < 10 {
		t.Errorf("found %d import claims; the parser has stopped reading them", claims)
	}
}

// spokeBinaryDeps lists the packages the spoke binary cmd links.
func spokeBinaryDeps(t *testing.T, cmd string) []string {
	t.Helper()
	out, err := exec.Command("go", "list", "-deps", "github.com/secgpt-go/secgpt/"+cmd).Output()
	if err != nil {
		t.Fatalf("go list %s: %v", cmd, err)
	}
	return strings.Fields(string(out))
}

// spokeBinaries are the spoke binaries users run.
var spokeBinaries = []string{"cmd/secgpt-spoke", "cmd/secgpt-spoke-local"}

// TestSpokeBinaryLinksNoHarness: the spoke binaries users run link no
// evaluation package, so the invariant harness's hostile apps can never
// be registered in them; only the secgpt binary's spokes of `secgpt eval
// invariants` run them.
func TestSpokeBinaryLinksNoHarness(t *testing.T) {
	for _, cmd := range spokeBinaries {
		for _, p := range spokeBinaryDeps(t, cmd) {
			if strings.HasPrefix(p, "github.com/secgpt-go/secgpt/evaluation") {
				t.Errorf("%s links %s", cmd, p)
			}
		}
	}
}

// TestSpokeBinaryLinksNoHub: the spoke binaries link none of the hub's
// side (the hub, the gate, the responder's request): a spoke is the
// untrusted side of the seam and talks to the hub only in ISC frames, and
// every package a binary links costs each spoke's start. apps/mcp once
// linked core/hub for the spawner's types only.
func TestSpokeBinaryLinksNoHub(t *testing.T) {
	for _, cmd := range spokeBinaries {
		for _, p := range spokeBinaryDeps(t, cmd) {
			switch strings.TrimPrefix(p, "github.com/secgpt-go/secgpt/") {
			case "core/hub", "core/gate", "core/respond":
				t.Errorf("%s links %s", cmd, p)
			}
		}
	}
}

// TestLocalSpokeBinaryLinksNoClients: secgpt-spoke-local exists to start
// cheaper than secgpt-spoke; it must not link what makes that one dear
// (the Google API and gRPC packages, the MCP SDK).
func TestLocalSpokeBinaryLinksNoClients(t *testing.T) {
	for _, p := range spokeBinaryDeps(t, "cmd/secgpt-spoke-local") {
		for _, heavy := range []string{"google.golang.org/", "cloud.google.com/", "github.com/modelcontextprotocol/", "github.com/secgpt-go/secgpt/apps/mcp"} {
			if strings.HasPrefix(p, heavy) {
				t.Errorf("cmd/secgpt-spoke-local links %s", p)
			}
		}
	}
}

// TestCoreImportsNoOuterLayer: core/ holds the trusted path of a message
// and nothing around it, so no core package imports a sandbox, adapter,
// operations, cli or command package (issue 21 item 5). core/hubtest, the
// harness whose hubs start real sandboxed spokes for the tests that ask for
// them, is the one exception, and only test code imports it.
func TestCoreImportsNoOuterLayer(t *testing.T) {
	const mod = "github.com/secgpt-go/secgpt/"
	out, err := exec.Command("go", "list", mod+"core/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	outer := []string{"sandbox", "adapters", "ops", "cli", "cmd"}
	checked := 0
	for _, p := range strings.Fields(string(out)) {
		if p == mod+"core/hubtest" {
			continue
		}
		deps, err := exec.Command("go", "list", "-deps", p).Output()
		if err != nil {
			t.Fatalf("go list -deps %s: %v", p, err)
		}
		checked++
		for _, d := range strings.Fields(string(deps)) {
			for _, o := range outer {
				if d == mod+o || strings.HasPrefix(d, mod+o+"/") {
					t.Errorf("%s imports %s", strings.TrimPrefix(p, mod), strings.TrimPrefix(d, mod))
				}
			}
		}
	}
	if checked < 10 {
		t.Errorf("only %d core packages checked", checked)
	}
}
