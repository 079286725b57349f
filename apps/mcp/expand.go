package mcp

import (
	"regexp"
	"strings"
)

var envRefRE = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)

// expandEnv replaces ${NAME} in each argument with the server's own
// environment variable NAME (a secret resolved by the hub, or an env
// value), so that a credential an argument needs ("postgres://…") is
// kept in the config as a reference, never as the value. Any other text,
// other ${…} included, stays as written: the hub's environment is not the
// server's.
func expandEnv(args []string, env map[string]string) []string {
	if len(env) == 0 {
		return args
	}
	out := make([]string, len(args))
	for i, a := range args {
		if !strings.Contains(a, "${") {
			out[i] = a
			continue
		}
		out[i] = envRefRE.ReplaceAllStringFunc(a, func(ref string) string {
			if v, ok := env[ref[2:len(ref)-1]]; ok {
				return v
			}
			return ref
		})
	}
	return out
}
