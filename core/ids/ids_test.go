package ids

import "testing"

func TestAppIDValid(t *testing.T) {
	tests := []struct {
		id   AppID
		want bool
	}{
		{"quick_ride", true}, {"vendor.app-2", true}, {"", false}, {"Quick", false},
		{"a/b", false}, {"a b", false}, {"../x", false}, {AppID(string(make([]byte, 65))), false},
	}
	for _, tt := range tests {
		if got := tt.id.Valid(); got != tt.want {
			t.Errorf("%q.Valid() = %v", tt.id, got)
		}
	}
}

func TestPlatform(t *testing.T) {
	for in, want := range map[UserID]string{"slack:T1/U2": "slack", "matrix:@a:b.org": "matrix", "nobody": ""} {
		if got := in.Platform(); got != want {
			t.Errorf("%q.Platform() = %q", in, got)
		}
	}
}
