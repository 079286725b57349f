package mcp

import (
	"errors"
	"fmt"
	"maps"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// secretRef is a reference to one of a server's secrets inside its url.
var secretRef = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)

// urlMarker stands for the n-th secret reference while the url is parsed:
// letters and digits only, valid in every part of a URL.
func urlMarker(n int) string { return "secgptsecretref" + strconv.Itoa(n) + "x" }

// ExpandURL puts the values of a remote server's secrets into the
// ${NAME} references of its url, escaped for the part they stand in: the
// user info, the path or a query value. A reference in the host, the
// scheme or a query key is refused (the host decides where the sandbox
// lets the spoke connect; it is the operator's text, never a secret's). It
// returns the url and the names it used; a url without references comes
// back as it is. The wiring fills a configured server's url with it when
// the bot starts (never before: the entry keeps the references), and an
// error never holds a secret's value.
func ExpandURL(raw string, secrets map[string]string) (string, map[string]bool, error) {
	refs := secretRef.FindAllStringSubmatch(raw, -1)
	if len(refs) == 0 {
		return raw, nil, nil
	}
	used := map[string]bool{}
	var names []string
	marked := secretRef.ReplaceAllStringFunc(raw, func(m string) string {
		name := secretRef.FindStringSubmatch(m)[1]
		names = append(names, name)
		return urlMarker(len(names) - 1)
	})
	for _, n := range names {
		if _, ok := secrets[n]; !ok {
			return "", nil, fmt.Errorf("url refers to ${%s}, which is not one of the server's secrets", n)
		}
		used[n] = true
	}
	u, err := url.Parse(marked)
	if err != nil {
		return "", nil, fmt.Errorf("url with its secret references: %w", err)
	}
	if strings.Contains(u.Scheme+u.Host+u.Fragment, "secgptsecretref") {
		return "", nil, fmt.Errorf("url: a secret may stand only in the user info, the path or a query value")
	}
	fill := func(s string) string {
		for i, n := range names {
			s = strings.ReplaceAll(s, urlMarker(i), secrets[n])
		}
		return s
	}
	if u.User != nil {
		name := fill(u.User.Username())
		if pass, ok := u.User.Password(); ok {
			u.User = url.UserPassword(name, fill(pass))
		} else {
			u.User = url.User(name)
		}
	}
	u.Path, u.RawPath = fill(u.Path), ""
	if u.RawQuery != "" {
		q := u.Query()
		for k, vs := range q {
			if strings.Contains(k, "secgptsecretref") {
				return "", nil, fmt.Errorf("url: a secret may stand only in the user info, the path or a query value")
			}
			for i := range vs {
				vs[i] = fill(vs[i])
			}
		}
		u.RawQuery = q.Encode()
	}
	return u.String(), used, nil
}

// SetURL sets s.URL to raw with its ${NAME} references filled in from
// secrets (ExpandURL), and keeps the values it used in s.URLSecrets, so
// that the client can take them out of what it reports. It returns the
// names used.
func (s *Server) SetURL(raw string, secrets map[string]string) (map[string]bool, error) {
	u, used, err := ExpandURL(raw, secrets)
	if err != nil {
		return nil, err
	}
	s.URL = u
	for n := range used {
		if s.URLSecrets == nil {
			s.URLSecrets = map[string]string{}
		}
		s.URLSecrets[n] = secrets[n]
	}
	return used, nil
}

// redact puts the reference ${NAME} back in text for every value of
// s.URLSecrets, as written and as escaped in each part of a URL: an HTTP
// client's error quotes its URL (net/http hides a password, but not a
// user name given alone, a path or a query), and the text of an app's
// error reaches its user, the hub's log and the audit log.
func (s Server) redact(text string) string {
	for _, n := range slices.Sorted(maps.Keys(s.URLSecrets)) {
		v := s.URLSecrets[n]
		if v == "" {
			continue
		}
		forms := []string{url.User(v).String(), url.QueryEscape(v), url.PathEscape(v), (&url.URL{Path: v}).EscapedPath(), v}
		for _, form := range forms {
			text = strings.ReplaceAll(text, form, "${"+n+"}")
		}
	}
	return text
}

// redactErr is err with its text redacted, or err itself when it holds
// no secret.
func (s Server) redactErr(err error) error {
	if err == nil || len(s.URLSecrets) == 0 {
		return err
	}
	if r := s.redact(err.Error()); r != err.Error() {
		return errors.New(r)
	}
	return err
}
