package matrixtest

import (
	"testing"
)

// recorder is a testing.TB that records how the helper gave up.
type recorder struct {
	testing.TB
	fatal, skip string
}

func (r *recorder) Helper()               {}
func (r *recorder) Fatal(args ...any)     { r.fatal = "fatal" }
func (r *recorder) Skip(args ...any)      { r.skip = "skip" }
func (r *recorder) Fatalf(string, ...any) { r.fatal = "fatal" }

func TestMissingFailsUnderCI(t *testing.T) {
	tests := []struct {
		ci   string
		want string
	}{
		{"true", "fatal"},
		{"", "skip"},
		{"false", "skip"},
	}
	for _, tt := range tests {
		t.Run("CI="+tt.ci, func(t *testing.T) {
			t.Setenv("CI", tt.ci)
			r := &recorder{TB: t}
			missing(r, "no server")
			if got := r.fatal + r.skip; got != tt.want {
				t.Errorf("missing() did %q, want %q", got, tt.want)
			}
		})
	}
}

func TestFromEnv(t *testing.T) {
	env := map[string]string{
		"SECGPT_TEST_MATRIX_URL":            "http://127.0.0.1:1234",
		"SECGPT_TEST_MATRIX_SERVER_NAME":    "hs.test",
		"SECGPT_TEST_MATRIX_ALICE_PASSWORD": "pw",
	}
	srv := fromEnv(func(k string) string { return env[k] })
	if srv == nil {
		t.Fatal("fromEnv returned nil with a URL set")
	}
	if srv.URL != "http://127.0.0.1:1234" || srv.Bot.UserID != "@bot:hs.test" || srv.Alice.Password != "pw" || srv.Bob.Password != "bobpassword1" {
		t.Errorf("fromEnv = %+v", srv)
	}
	if fromEnv(func(string) string { return "" }) != nil {
		t.Error("fromEnv without a URL should find no server")
	}
}
