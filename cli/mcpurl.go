package cli

import (
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"strings"
)

// secretRef is a reference to one of a server's secrets inside its url.
var secretRef = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)

// urlMarker stands for the n-th secret reference while the url is parsed:
// letters and digits only, valid in every part of a URL.
func urlMarker(n int) string { return "secgptsecretref" + strconv.Itoa(n) + "x" }

// expandURLSecrets puts the values of a remote server's secrets into the
// ${NAME} references of its url, escaped for the part they stand in: the
// user info, the path or a query value. A reference in the host, the
// scheme or a query key is refused (the host decides where the sandbox
// lets the spoke connect; it is the operator's text, never a secret's). It
// returns the url and the names it used; a url without references comes
// back as it is.
func expandURLSecrets(raw string, secrets map[string]string) (string, map[string]bool, error) {
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
