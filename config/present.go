package config

import (
	"bytes"
	"errors"
	"fmt"
	"net/url"
	"reflect"
	"regexp"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Mask replaces a secret in Masked output.
const Mask = "***"

// MarshalYAML writes a Duration the way UnmarshalYAML reads it ("2m0s").
func (d Duration) MarshalYAML() (any, error) { return time.Duration(d).String(), nil }

// MarshalYAML writes a Size in the largest binary unit that divides it.
func (s Size) MarshalYAML() (any, error) {
	for _, u := range []struct {
		suf string
		m   int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if s != 0 && int64(s)%u.m == 0 {
			return fmt.Sprintf("%d%s", int64(s)/u.m, u.suf), nil
		}
	}
	return int64(s), nil
}

// secretName matches keys whose values are secrets whatever they look
// like. Keys added later (mcp.*, OAuth client secrets) are covered by name.
var secretName = regexp.MustCompile(`(?i)(key|token|password|passwd|secret|credential|auth|cookie|private)`)

// Masked returns a copy of c that is safe to print: every value under a
// secret-sounding key is replaced by Mask, every URL loses its password and
// its query string, and every map value (app settings, headers,
// environment maps, whose keys say nothing about what is secret) is masked
// with only the keys shown. Walking the struct by reflection means a key
// another change adds is masked by the same rules without being listed.
func (c Config) Masked() Config {
	v := reflect.ValueOf(&c).Elem()
	maskValue(v, "", false)
	return c
}

func maskValue(v reflect.Value, name string, secret bool) {
	switch v.Kind() {
	case reflect.Struct:
		t := v.Type()
		for i := 0; i < v.NumField(); i++ {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			n := strings.Split(f.Tag.Get("yaml"), ",")[0]
			if n == "" {
				n = f.Name
			}
			maskValue(v.Field(i), n, secret || secretName.MatchString(n))
		}
	case reflect.Pointer:
		if !v.IsNil() {
			// Copy before masking: the caller's config shares the pointee.
			cp := reflect.New(v.Elem().Type())
			cp.Elem().Set(v.Elem())
			maskValue(cp.Elem(), name, secret)
			v.Set(cp)
		}
	case reflect.Slice:
		if v.IsNil() {
			return
		}
		cp := reflect.MakeSlice(v.Type(), v.Len(), v.Len())
		reflect.Copy(cp, v)
		for i := 0; i < cp.Len(); i++ {
			maskValue(cp.Index(i), name, secret)
		}
		v.Set(cp)
	case reflect.Map:
		if v.IsNil() {
			return
		}
		cp := reflect.MakeMapWithSize(v.Type(), v.Len())
		iter := v.MapRange()
		for iter.Next() {
			cp.SetMapIndex(iter.Key(), maskedMapValue(iter.Value()))
		}
		v.Set(cp)
	case reflect.String:
		s := v.String()
		switch {
		case s == "":
		case secret:
			v.SetString(Mask)
		default:
			v.SetString(MaskURL(s))
		}
	case reflect.Interface:
		if !v.IsNil() && v.CanSet() {
			v.Set(maskedMapValue(v.Elem()))
		}
	}
}

// maskedMapValue is Mask in the map's element type, or the zero value when
// that type cannot hold a string (a struct element is walked instead).
func maskedMapValue(e reflect.Value) reflect.Value {
	t := e.Type()
	if e.Kind() == reflect.Interface && !e.IsNil() {
		e = e.Elem()
	}
	switch {
	case t.Kind() == reflect.String:
		return reflect.ValueOf(Mask).Convert(t)
	case t.Kind() == reflect.Interface:
		return reflect.ValueOf(Mask)
	case e.Kind() == reflect.Struct:
		cp := reflect.New(t).Elem()
		cp.Set(e)
		maskValue(cp, "", false)
		return cp
	}
	return reflect.Zero(t)
}

// MaskURL hides the password and query string of a URL with a scheme
// ("redis://u:pw@h/0?x=1" → "redis://u:***@h/0?***"); other text is
// returned unchanged.
func MaskURL(s string) string {
	if !strings.Contains(s, "://") {
		return s
	}
	u, err := url.Parse(s)
	if err != nil {
		// Unparsable but URL-shaped: it may still hold credentials.
		return Mask
	}
	if u.User != nil {
		if _, has := u.User.Password(); has {
			u.User = url.UserPassword(u.User.Username(), Mask)
		} else {
			// A lone user part is often a token (https://TOKEN@host).
			u.User = url.User(Mask)
		}
	}
	if u.RawQuery != "" {
		u.RawQuery = Mask
	}
	if u.Fragment != "" {
		u.Fragment = Mask
	}
	out := u.String()
	// url.String escapes the mask inside the user part; show it plainly.
	return strings.ReplaceAll(out, url.QueryEscape(Mask), Mask)
}

// YAML renders c.Masked() as YAML: what `secgpt config` prints. The
// output is itself a valid config file (with the secrets to fill in).
func (c Config) YAML() ([]byte, error) {
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(c.Masked()); err != nil {
		return nil, fmt.Errorf("config: render yaml: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("config: render yaml: %w", err)
	}
	return b.Bytes(), nil
}

// lineMsg is one "line N: message" entry of a yaml.v3 error.
var lineMsg = regexp.MustCompile(`^line (\d+): (.*)$`)

// keyedError rewrites a decode error of b so that each entry names the
// config key (model.provider) instead of a Go type (config.Model, string).
func keyedError(b []byte, err error) error {
	var root yaml.Node
	if yaml.Unmarshal(b, &root) != nil {
		return err // a syntax error: yaml's own message has the line
	}
	var te *yaml.TypeError
	var msgs []string
	if errors.As(err, &te) {
		msgs = te.Errors
	} else {
		msgs = []string{err.Error()}
	}
	out := make([]string, 0, len(msgs))
	for _, m := range msgs {
		out = append(out, rewrite(&root, m))
	}
	return errors.New(strings.Join(out, "; "))
}

var (
	notFound     = regexp.MustCompile(`^field (\S+) not found in type \S+$`)
	cannotDecode = regexp.MustCompile(`^cannot unmarshal !!(\w+) (?:` + "`" + `[^` + "`" + `]*` + "`" + ` )?into (\S+)$`)
)

func rewrite(root *yaml.Node, msg string) string {
	m := lineMsg.FindStringSubmatch(msg)
	if m == nil {
		return msg
	}
	var line int
	fmt.Sscan(m[1], &line)
	text := m[2]
	if nf := notFound.FindStringSubmatch(text); nf != nil {
		key := keyAtLine(root, line, 0, nf[1])
		if key == "" {
			key = nf[1]
		}
		return fmt.Sprintf("line %d: %s: unknown key", line, key)
	}
	kind := yaml.ScalarNode
	if cd := cannotDecode.FindStringSubmatch(text); cd != nil {
		text = fmt.Sprintf("want %s, got %s", goTypeWord(cd[2]), yamlTagWord(cd[1]))
		switch cd[1] {
		case "map":
			kind = yaml.MappingNode
		case "seq":
			kind = yaml.SequenceNode
		}
	}
	key := keyAtLine(root, line, kind, "")
	// Our own UnmarshalYAML errors already start with "line N: ".
	text = strings.TrimPrefix(text, fmt.Sprintf("line %d: ", line))
	if key == "" {
		return fmt.Sprintf("line %d: %s", line, text)
	}
	return fmt.Sprintf("line %d: %s: %s", line, key, text)
}

// keyAtLine returns the dotted path (list items as [i]) of the node that
// a yaml.v3 error on line is about. The error gives only the line, so the
// node is picked by what the error says: the key named field, or else the
// innermost value of kind starting on that line.
func keyAtLine(root *yaml.Node, line int, kind yaml.Kind, field string) string {
	var best string
	var walk func(n *yaml.Node, path string)
	walk = func(n *yaml.Node, path string) {
		switch n.Kind {
		case yaml.DocumentNode:
			for _, c := range n.Content {
				walk(c, path)
			}
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				k, v := n.Content[i], n.Content[i+1]
				p := k.Value
				if path != "" {
					p = path + "." + k.Value
				}
				switch {
				case field != "":
					if k.Line == line && k.Value == field {
						best = p
					}
				case v.Line == line && v.Kind == kind:
					best = p
				}
				walk(v, p)
			}
		case yaml.SequenceNode:
			for i, c := range n.Content {
				p := fmt.Sprintf("%s[%d]", path, i)
				if field == "" && c.Line == line && c.Kind == kind {
					best = p
				}
				walk(c, p)
			}
		}
	}
	walk(root, "")
	return best
}

func goTypeWord(t string) string {
	switch {
	case t == "string":
		return "a string"
	case t == "bool":
		return "true or false"
	case strings.HasPrefix(t, "int") || strings.HasPrefix(t, "uint"):
		return "a whole number"
	case strings.HasPrefix(t, "float"):
		return "a number"
	case strings.HasPrefix(t, "[]"):
		return "a list"
	case strings.HasPrefix(t, "map"):
		return "a mapping of keys to values"
	case strings.HasPrefix(t, "config."):
		return "a mapping of keys to values"
	}
	return "another kind of value"
}

func yamlTagWord(tag string) string {
	switch tag {
	case "map":
		return "a mapping"
	case "seq":
		return "a list"
	case "str":
		return "a string"
	case "int":
		return "a number"
	case "bool":
		return "true/false"
	case "float":
		return "a number"
	case "null":
		return "nothing"
	}
	return tag
}
