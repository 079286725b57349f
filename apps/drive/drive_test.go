package drive

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/secgpt-go/secgpt/apps"
	"github.com/secgpt-go/secgpt/apps/appstest"
	"github.com/secgpt-go/secgpt/apps/googlefake"
)

func TestSchema(t *testing.T) {
	appstest.CheckExamples(t, New(), []appstest.Example{
		appstest.Valid("query", "google_drive_retrieve", `{"query":"tax return"}`),
		appstest.Invalid("empty", "google_drive_retrieve", `{"query":""}`),
		appstest.Invalid("missing", "google_drive_retrieve", `{}`),
		appstest.Invalid("not a string", "google_drive_retrieve", `{"query":["tax"]}`),
	})
}

// titles extracts "=== Title (" headers in order.
func titles(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if rest, ok := strings.CutPrefix(l, "=== "); ok {
			t, _, _ := strings.Cut(rest, " (")
			out = append(out, t)
		}
	}
	return out
}

func TestFixture(t *testing.T) {
	docs, err := DefaultDocuments()
	if err != nil {
		t.Fatal(err)
	}
	var all strings.Builder
	for _, d := range docs {
		all.WriteString(d.Body)
	}
	for _, m := range SensitiveMarkers() {
		if !strings.Contains(all.String(), m) {
			t.Errorf("fixture lacks sensitive marker %q", m)
		}
	}
	if len(docs) < 4 {
		t.Errorf("%d fixture documents", len(docs))
	}
}

func TestLocalRetrieve(t *testing.T) {
	tests := []struct {
		name  string
		query string
		want  []string
	}{
		{"title words", "tax return", []string{"Tax return 2025"}},
		{"case-insensitive", "PASSPORT", []string{"Passport scan notes"}},
		{"title beats body", "onboarding plan", []string{"Q3 project plan"}},
		{"body word", "chocolate", []string{"Grocery list"}},
		{"several documents ranked", "passport tax fake", []string{"Passport scan notes", "Tax return 2025"}},
		{"general query returns the top documents", "all of the user's documents",
			[]string{"Book club notes", "Grocery list", "Passport scan notes", "Q3 project plan", "Tax return 2025"}},
		{"no match", "zebra", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := appstest.CallString(t, appstest.NewEnv(), New(), "google_drive_retrieve", fmt.Sprintf(`{"query":%q}`, tt.query))
			if g := titles(got); !slices.Equal(g, tt.want) {
				t.Errorf("titles %q, want %q\n%s", g, tt.want, got)
			}
		})
	}
}

func TestGeneralQueryCarriesSecrets(t *testing.T) {
	got := appstest.CallString(t, appstest.NewEnv(), New(), "google_drive_retrieve", `{"query":"documents"}`)
	for _, m := range SensitiveMarkers() {
		if !strings.Contains(got, m) {
			t.Errorf("answer lacks %q", m)
		}
	}
}

func TestConfiguredFolder(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "a.md"), []byte("# Alpha report\nquarterly numbers"), 0o600)
	os.WriteFile(filepath.Join(dir, "plain.txt"), []byte("no title line, mentions alpha"), 0o600)
	os.WriteFile(filepath.Join(dir, "skip.pdf"), []byte("alpha"), 0o600)
	os.WriteFile(filepath.Join(dir, "big.txt"), []byte(strings.Repeat("alpha ", maxFileBytes)), 0o600)
	os.Mkdir(filepath.Join(dir, "sub.txt"), 0o700)
	tests := []struct {
		name    string
		cfg     string
		want    []string
		wantErr bool
	}{
		{"folder", `{"folder":"` + dir + `"}`, []string{"Alpha report", "plain"}, false},
		{"missing folder", `{"folder":"` + filepath.Join(dir, "none") + `"}`, nil, true},
		{"unknown key", `{"fold":"x"}`, nil, true},
		{"unknown backend", `{"backend":"dropbox"}`, nil, true},
		{"drive without credentials", `{"backend":"drive"}`, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := appstest.Call(t, appstest.NewEnv().WithConfig(tt.cfg), New(), "google_drive_retrieve", `{"query":"alpha"}`)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("no error; answer %s", out)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var s string
			json.Unmarshal(out, &s)
			if g := titles(s); !slices.Equal(g, tt.want) {
				t.Errorf("titles %q, want %q", g, tt.want)
			}
		})
	}
}

func TestLongDocumentsFit(t *testing.T) {
	dir := t.TempDir()
	for i := range 8 {
		os.WriteFile(filepath.Join(dir, fmt.Sprintf("d%d.txt", i)), []byte("# Doc "+strings.Repeat("é", 300)+"\n"+strings.Repeat("word ", 5000)), 0o600)
	}
	env := appstest.NewEnv().WithConfig(`{"folder":"` + dir + `"}`)
	for _, q := range []string{"word", "documents"} {
		got := appstest.CallString(t, env, New(), "google_drive_retrieve", `{"query":"`+q+`"}`)
		if n := strings.Count(got, "=== Doc"); n != maxDocs {
			t.Errorf("%q: %d documents shown, want %d", q, n, maxDocs)
		}
	}
}

// fakeDrive speaks the subset of Drive v3 the backend uses.
type fakeDrive struct {
	mu      sync.Mutex // guards queries and orderBy
	queries []string
	orderBy []string
}

func newFakeDrive(t *testing.T) (*fakeDrive, *httptest.Server) {
	f := &fakeDrive{}
	files := []map[string]string{
		{"id": "doc1", "name": "Tax return 2025", "mimeType": "application/vnd.google-apps.document", "modifiedTime": "2026-03-01T10:00:00.000Z"},
		{"id": "txt2", "name": "notes.txt", "mimeType": "text/plain", "modifiedTime": "2026-02-01T10:00:00.000Z"},
		{"id": "sheet3", "name": "Budget", "mimeType": "application/vnd.google-apps.spreadsheet"},
		{"id": "pdf4", "name": "scan.pdf", "mimeType": "application/pdf"},
		{"id": "gone5", "name": "Gone", "mimeType": "text/plain"},
		{"id": "../x", "name": "Bad id", "mimeType": "text/plain"},
	}
	mux := http.NewServeMux()
	auth := func(h http.HandlerFunc) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("Authorization") != "Bearer drive-token" {
				w.WriteHeader(http.StatusUnauthorized)
				fmt.Fprint(w, `{"error":{"code":401,"message":"Invalid Credentials"}}`)
				return
			}
			h(w, r)
		}
	}
	mux.HandleFunc("GET /drive/v3/files", auth(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if q.Get("fields") != "files(id,name,mimeType,modifiedTime)" {
			http.Error(w, `{"error":{"message":"bad fields"}}`, http.StatusBadRequest)
			return
		}
		f.mu.Lock()
		f.queries = append(f.queries, q.Get("q"))
		f.orderBy = append(f.orderBy, q.Get("orderBy"))
		f.mu.Unlock()
		json.NewEncoder(w).Encode(map[string]any{"files": files})
	}))
	mux.HandleFunc("GET /drive/v3/files/{id}/export", auth(func(w http.ResponseWriter, r *http.Request) {
		switch r.PathValue("id") + " " + r.URL.Query().Get("mimeType") {
		case "doc1 text/plain":
			fmt.Fprint(w, "\ufeffTaxpayer ID (fake): 000-00-0000\r\n")
		case "sheet3 text/csv":
			fmt.Fprint(w, "item,amount\nrent,1200\n")
		default:
			http.Error(w, `{"error":{"message":"bad export"}}`, http.StatusBadRequest)
		}
	}))
	mux.HandleFunc("GET /drive/v3/files/{id}", auth(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("alt") != "media" {
			http.Error(w, `{"error":{"message":"want alt=media"}}`, http.StatusBadRequest)
			return
		}
		switch r.PathValue("id") {
		case "txt2":
			fmt.Fprint(w, "plain text notes")
		default:
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprint(w, `{"error":{"code":404,"message":"File not found"}}`)
		}
	}))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return f, srv
}

func TestDriveBackend(t *testing.T) {
	f, srv := newFakeDrive(t)
	env := appstest.NewEnv().WithConfig(`{"backend":"drive","access_token":"drive-token","base_url":"` + srv.URL + `"}`)
	env.Client = srv.Client()

	got := appstest.CallString(t, env, New(), "google_drive_retrieve", `{"query":"tax it's"}`)
	for _, w := range []string{"=== Tax return 2025", "000-00-0000", "plain text notes", "rent,1200", "(no text content: application/pdf)", "(content not available)", "modified 2026-03-01"} {
		if !strings.Contains(got, w) {
			t.Errorf("answer lacks %q:\n%s", w, got)
		}
	}
	if strings.Contains(got, "\ufeff") {
		t.Error("byte-order mark of the Docs export kept")
	}
	if strings.Contains(got, "Bad id") {
		t.Error("file with a path-like id was fetched")
	}
	if n := strings.Count(got, "=== "); n != maxDocs {
		t.Errorf("%d documents, want %d", n, maxDocs)
	}
	appstest.CallString(t, env, New(), "google_drive_retrieve", `{"query":"my documents"}`)
	wantQ := []string{"trashed = false and (fullText contains 'tax' or fullText contains 'it')", "trashed = false"}
	if !slices.Equal(f.queries, wantQ) {
		t.Errorf("queries %q, want %q", f.queries, wantQ)
	}
	if !slices.Equal(f.orderBy, []string{"", "modifiedTime desc"}) {
		t.Errorf("orderBy %q", f.orderBy)
	}

	bad := appstest.NewEnv().WithConfig(`{"backend":"drive","access_token":"wrong","base_url":"` + srv.URL + `"}`)
	bad.Client = srv.Client()
	if _, err := appstest.Call(t, bad, New(), "google_drive_retrieve", `{"query":"tax"}`); err == nil || !strings.Contains(err.Error(), "Invalid Credentials") {
		t.Errorf("error %v, want the API's 401 message", err)
	}
}

func TestDriveQueryEscapes(t *testing.T) {
	// Terms are letters and digits only, so no quote can reach q.
	if q := driveQuery(`x' or name contains 'secret`); strings.Count(q, "'")%2 != 0 || strings.Contains(q, "name contains") {
		t.Errorf("query %q", q)
	}
}

func FuzzParseDocument(f *testing.F) {
	f.Add("a.txt", "# Title\nbody")
	f.Add("b.md", "#\n")
	f.Fuzz(func(t *testing.T, name, text string) {
		d := parseDocument(name, text, time.Time{})
		if d.Title == "" && strings.TrimSuffix(name, filepath.Ext(name)) != "" {
			t.Fatalf("empty title for %q", name)
		}
		out := render(text, rank([]Document{d}, text))
		if len([]rune(out)) > maxAnswer {
			t.Fatalf("render of %d characters", len([]rune(out)))
		}
	})
}

// TestDriveLinkedAccount: with the user's linked-account credential in the
// invocation, the drive backend reads that account's files through the
// Drive client library, and the operator's config token is not used.
func TestDriveLinkedAccount(t *testing.T) {
	fake := googlefake.Start("c", "s")
	t.Cleanup(fake.Close)
	fake.AddFile("alice@example.com", googlefake.File{ID: "f1", Name: "Trip plan", Body: "Lisbon trip plan: flights on Friday", Modified: time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)})
	fake.AddFile("bob@example.com", googlefake.File{ID: "f2", Name: "Bob trip", Body: "Bob's trip plan"})
	cfg := `{"backend":"drive","access_token":"operator-token","base_url":"` + fake.URL + `"}`
	for _, tt := range []struct {
		name    string
		cred    *apps.Credential
		want    string
		wantErr bool
	}{
		{"alice's account", &apps.Credential{Provider: "google", AccessToken: fake.IssueToken("alice@example.com")}, "Lisbon trip plan", false},
		{"bob's account", &apps.Credential{Provider: "google", AccessToken: fake.IssueToken("bob@example.com")}, "Bob's trip plan", false},
		{"no linked account: the config token, which the fake does not know", nil, "", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			env := appstest.NewEnv().WithConfig(cfg)
			env.Client = &http.Client{}
			env.Cred = tt.cred
			out, err := appstest.Call(t, env, New(), string(ID), `{"query":"trip plan"}`)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("answer %s without a valid token", out)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(out), tt.want) || (tt.want == "Lisbon trip plan" && strings.Contains(string(out), "Bob")) {
				t.Fatalf("answer %s, want %q only", out, tt.want)
			}
		})
	}
}
