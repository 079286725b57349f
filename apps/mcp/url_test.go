package mcp

import (
	"errors"
	"net/url"
	"strings"
	"testing"
)

// TestExpandURL: a remote server's secrets fill the url's
// references, escaped for where they stand, and never its host.
func TestExpandURL(t *testing.T) {
	secrets := map[string]string{"PASS": "p@ss/w?rd#1", "KEY": "a&b=c d", "HOST": "evil.example"}
	tests := []struct {
		name, in string
		want     string // the decoded part to check, or the error
		part     func(*url.URL) string
		err      bool
	}{
		{"password", "https://bob:${PASS}@mcp.example.com/mcp", "p@ss/w?rd#1", func(u *url.URL) string { p, _ := u.User.Password(); return p }, false},
		{"query value", "https://mcp.example.com/mcp?api_key=${KEY}&v=2", "a&b=c d", func(u *url.URL) string { return u.Query().Get("api_key") }, false},
		{"path", "https://mcp.example.com/t/${KEY}/mcp", "/t/a&b=c d/mcp", func(u *url.URL) string { return u.Path }, false},
		{"host refused", "https://${HOST}/mcp", "", nil, true},
		{"host part refused", "https://mcp.${HOST}/mcp", "", nil, true},
		{"query key refused", "https://mcp.example.com/mcp?${KEY}=1", "", nil, true},
		{"unknown secret", "https://mcp.example.com/mcp?k=${NOPE}", "", nil, true},
		{"no references", "https://mcp.example.com/mcp?k=1", "k=1", func(u *url.URL) string { return u.RawQuery }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, _, err := ExpandURL(tt.in, secrets)
			if tt.err {
				if err == nil {
					t.Fatalf("%q expanded to %q, want an error", tt.in, got)
				}
				for _, v := range secrets {
					if strings.Contains(err.Error(), v) {
						t.Errorf("error %q holds a secret's value", err)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			u, err := url.Parse(got)
			if err != nil {
				t.Fatalf("%q: %v", got, err)
			}
			if u.Host != "mcp.example.com" {
				t.Errorf("host %q", u.Host)
			}
			if p := tt.part(u); p != tt.want {
				t.Errorf("%q: got %q, want %q", got, p, tt.want)
			}
		})
	}
}

// TestRedact: a secret SetURL put into the url is taken out of an error's
// text as written and as escaped for each part of a URL; other text stays.
func TestRedact(t *testing.T) {
	var s Server
	if _, err := s.SetURL("https://${USER}@mcp.example.com/t/${PATH}/mcp?api_key=${KEY}",
		map[string]string{"USER": "tok:en", "PATH": "p a/th", "KEY": "k&y=1", "OTHER": "not-in-url"}); err != nil {
		t.Fatal(err)
	}
	if _, ok := s.URLSecrets["OTHER"]; ok {
		t.Errorf("a secret the url does not name is kept: %v", s.URLSecrets)
	}
	tests := []struct{ in, want string }{
		{`Post "` + s.URL + `": dial tcp: no such host`, `Post "https://${USER}@mcp.example.com/t/${PATH}/mcp?api_key=${KEY}": dial tcp: no such host`},
		{"the key k&y=1 and the user tok:en as written", "the key ${KEY} and the user ${USER} as written"},
		{"nothing secret, not-in-url", "nothing secret, not-in-url"},
	}
	for _, tt := range tests {
		got := s.redactErr(errors.New(tt.in))
		if got.Error() != tt.want {
			t.Errorf("redact(%q) = %q, want %q", tt.in, got, tt.want)
		}
		for _, v := range s.URLSecrets {
			if strings.Contains(got.Error(), v) {
				t.Errorf("redact(%q) = %q still holds %q", tt.in, got, v)
			}
		}
	}
}
