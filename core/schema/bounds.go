package schema

import (
	"errors"
	"fmt"
)

// Bounds on the work one Validate call may cost. Validation runs in the
// hub on values a spoke or a model wrote, so its cost must not depend on
// the validator's number handling: the previous validator turned numbers
// into arbitrary-precision rationals, and one number like 1e999999999 cost
// it tens of milliseconds. No JSON number a real app or schema needs comes
// near these.
const (
	// MaxNumberDigits bounds the digits of a number's mantissa (float64
	// holds 17 significant digits, uint64 20, SQL's widest decimal 38).
	MaxNumberDigits = 40
	// MaxNumberExponent bounds the magnitude of a number's exponent
	// (float64 ends at about 1e308).
	MaxNumberExponent = 400
	// MaxNumbers bounds the numbers in one validated document; with the
	// other bounds it keeps one document under about 0.3 s on the 2-core
	// test machine (BenchmarkValidateWorstFrame: 0.23 s under load); a
	// spoke gets few documents validated (its final answer, and app
	// requests, each behind a decision).
	MaxNumbers = 5000
	// MaxValues bounds the JSON values (scalars and containers) in one
	// validated document.
	MaxValues = 200_000
	// MaxDepth bounds the nesting of arrays and objects.
	MaxDepth = 64
)

// ErrTooCostly is returned by Validate for a value outside the bounds above,
// before the validator sees it.
var ErrTooCostly = errors.New("schema: value too costly to validate")

// checkCost scans a JSON document and refuses it when validating it could
// cost more than the bounds allow. It does not check that v is valid JSON
// (the parser that follows does); it only has to terminate on any input.
// Its messages never quote v: v may be another app's output.
func checkCost(v []byte) (values int, err error) {
	depth, numbers := 0, 0
	for i := 0; i < len(v); {
		switch c := v[i]; {
		case c == '"':
			values++
			i++
			for i < len(v) && v[i] != '"' {
				if v[i] == '\\' {
					i++
				}
				i++
			}
			i++
		case c == '{' || c == '[':
			values++
			depth++
			if depth > MaxDepth {
				return values, fmt.Errorf("nesting deeper than %d: %w", MaxDepth, ErrTooCostly)
			}
			i++
		case c == '}' || c == ']':
			depth--
			i++
		case c == '-' || (c >= '0' && c <= '9'):
			values++
			numbers++
			if numbers > MaxNumbers {
				return values, fmt.Errorf("more than %d numbers: %w", MaxNumbers, ErrTooCostly)
			}
			n, err := checkNumber(v[i:])
			if err != nil {
				return values, err
			}
			i += n
		case c == 't' || c == 'f' || c == 'n':
			values++
			for i < len(v) && v[i] >= 'a' && v[i] <= 'z' {
				i++
			}
		default:
			i++
		}
		if values > MaxValues {
			return values, fmt.Errorf("more than %d values: %w", MaxValues, ErrTooCostly)
		}
	}
	return values, nil
}

// checkNumber scans the number at the start of v and returns its length.
func checkNumber(v []byte) (int, error) {
	i := 0
	if i < len(v) && v[i] == '-' {
		i++
	}
	digits := 0
	for i < len(v) && (isDigit(v[i]) || v[i] == '.') {
		if v[i] != '.' {
			digits++
		}
		i++
	}
	if digits > MaxNumberDigits {
		return 0, fmt.Errorf("a number with %d digits (at most %d): %w", digits, MaxNumberDigits, ErrTooCostly)
	}
	if i < len(v) && (v[i] == 'e' || v[i] == 'E') {
		i++
		if i < len(v) && (v[i] == '+' || v[i] == '-') {
			i++
		}
		// Leading zeros do not make an exponent larger.
		for i < len(v) && v[i] == '0' {
			i++
		}
		exp, n := 0, 0
		for i < len(v) && isDigit(v[i]) {
			if n < 6 {
				exp = exp*10 + int(v[i]-'0')
			}
			n++
			i++
		}
		if n >= 6 || exp > MaxNumberExponent {
			return 0, fmt.Errorf("a number with an exponent beyond ±%d: %w", MaxNumberExponent, ErrTooCostly)
		}
	}
	return i, nil
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
