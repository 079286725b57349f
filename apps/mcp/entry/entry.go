// Package entry holds the rules of an MCP server's entry that both its
// readers check: the server's name and the names of its environment
// variables. config checks them when it reads the operator's file (with
// errors that name the key), apps/mcp when a server reaches a spoke or is
// listed (Server.Check), and cli's `mcp add` and `mcp import` before they
// write an entry; one rule, so a name one accepts the other never refuses.
//
// Imported by config, apps/mcp, cli and tests.
package entry

import (
	"fmt"
	"regexp"
)

// MaxName is the longest server name: its app ID is "mcp." + name, and a
// function name "<name>__<tool>" must leave room for the tool.
const MaxName = 41

var (
	nameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,40}$`)
	envRE  = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
)

// CheckName validates a server's name.
func CheckName(name string) error {
	if !nameRE.MatchString(name) {
		return fmt.Errorf("server name %q: use lowercase letters, digits, - and _, starting with a letter or digit (at most %d characters)", name, MaxName)
	}
	return nil
}

// CheckEnvName validates the name of one of a server's environment
// variables or secrets: a shell identifier, so that it can be neither
// empty nor carry "=" or NUL into the server's environment.
func CheckEnvName(k string) error {
	if !envRE.MatchString(k) {
		return fmt.Errorf("%q is not an environment variable name (letters, digits and _, not starting with a digit)", k)
	}
	return nil
}
