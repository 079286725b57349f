package schema

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestValidateRefusesCostlyValues(t *testing.T) {
	s := MustCompile(`{"type":"object","properties":{"n":{"type":"number","multipleOf":0.01}}}`)
	tests := []struct {
		name   string
		in     string
		costly bool
	}{
		{"small number", `{"n":12.5}`, false},
		{"largest float64", `{"n":1.7976931348623157e308}`, false},
		{"exponent at bound", `{"n":1e400}`, false},
		{"negative exponent at bound", `{"n":1E-400}`, false},
		{"zero-padded exponent", `{"n":1e0000000000000000000400}`, false},
		{"huge exponent", `{"n":1e999999999}`, true},
		{"huge negative exponent", `{"n":-1.5E-999999999}`, true},
		{"exponent one past bound", `{"n":1e401}`, true},
		{"many digits", `{"n":` + strings.Repeat("9", MaxNumberDigits+1) + `}`, true},
		{"many fraction digits", `{"n":0.` + strings.Repeat("1", MaxNumberDigits) + `}`, true},
		{"digits at bound", `{"n":` + strings.Repeat("9", MaxNumberDigits) + `}`, false},
		{"number in a string is text", `{"s":"1e999999999"}`, false},
		{"escaped quote in a string", `{"s":"\"1e999999999"}`, false},
		{"deep nesting", strings.Repeat("[", MaxDepth+1) + strings.Repeat("]", MaxDepth+1), true},
		{"too many values", "[" + strings.Repeat(`"",`, MaxValues) + `""]`, true},
		{"too many numbers", "[" + strings.Repeat("0,", MaxNumbers) + "0]", true},
		{"numbers at bound", "[" + strings.Repeat("0,", MaxNumbers-1) + "0]", false},
		{"huge number deep in an array", `{"a":[1,2,{"b":[3e9999999]}]}`, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := s.Validate(json.RawMessage(tc.in))
			if got := errors.Is(err, ErrTooCostly); got != tc.costly {
				t.Fatalf("Validate = %v; want ErrTooCostly=%v", err, tc.costly)
			}
			if err != nil && strings.Contains(err.Error(), "999999") {
				t.Fatalf("the error quotes the value: %v", err)
			}
		})
	}
}

// worstFrame is the costliest value the bounds let through: as many
// numbers at the exponent and digit bounds as allowed, each passing the
// benchmark's schema so that every keyword runs.
func worstFrame() []byte {
	num := strings.Repeat("9", MaxNumberDigits) + "e-" + fmt.Sprint(MaxNumberExponent-MaxNumberDigits-2)
	var b strings.Builder
	b.WriteString(`{"n":[`)
	for i := 0; i < MaxNumbers; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(num)
	}
	b.WriteString("]}")
	return []byte(b.String())
}

// BenchmarkValidateWorstFrame reports what one spoke frame can cost the
// hub's validator at most (go test -bench ValidateWorst ./core/schema/).
func BenchmarkValidateWorstFrame(b *testing.B) {
	s := MustCompile(`{"type":"object","properties":{"n":{"type":"array","items":{"type":"number","multipleOf":1e-400,"maximum":1e300,"minimum":-1e300,"exclusiveMaximum":1e301,"exclusiveMinimum":-1e301}}}}`)
	v := worstFrame()
	if _, err := checkCost(v); err != nil {
		b.Fatalf("the worst frame is refused: %v", err)
	}
	b.SetBytes(int64(len(v)))
	for i := 0; i < b.N; i++ {
		_ = s.Validate(v)
	}
}

// BenchmarkValidateHugeExponent is what one refused number costs now.
func BenchmarkValidateHugeExponent(b *testing.B) {
	s := MustCompile(`{"type":"number","multipleOf":0.01}`)
	v := json.RawMessage(`1e999999999`)
	for i := 0; i < b.N; i++ {
		_ = s.Validate(v)
	}
}

// FuzzCheckCost: the scanner terminates and never panics on any input, and
// a value it lets through has no number outside the bounds.
func FuzzCheckCost(f *testing.F) {
	for _, s := range []string{`{"n":1e999999999}`, `[1,2,3]`, `"\"`, `{"a":"\\"}`, `-`, `1e`, `1e+`, `[[[[`, `]]]`, `tru`, `0.0e-0000001`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		if _, err := checkCost(in); err != nil || !json.Valid(in) {
			return
		}
		dec := json.NewDecoder(strings.NewReader(string(in)))
		dec.UseNumber()
		for {
			tok, err := dec.Token()
			if err != nil {
				return
			}
			n, ok := tok.(json.Number)
			if !ok {
				continue
			}
			mant, exp, _ := strings.Cut(strings.ToLower(string(n)), "e")
			digits := strings.Count(mant, "") - 1 - strings.Count(mant, ".") - strings.Count(mant, "-")
			exp = strings.TrimLeft(strings.TrimLeft(exp, "+-"), "0")
			if digits > MaxNumberDigits || len(exp) > 3 {
				t.Fatalf("let through %s", n)
			}
		}
	})
}
