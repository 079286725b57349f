package matrix

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"maunium.net/go/mautrix/id"
)

// Config is what the adapter needs to run. Zero values of optional fields
// mean the documented default.
type Config struct {
	// Homeserver is the client-server API base URL ("https://matrix.example.org").
	Homeserver string
	// UserID is the bot's Matrix user ID ("@secgpt:example.org"). Required
	// with Password; with AccessToken it is checked against /whoami if set.
	UserID string
	// Password logs the bot in; the access token and device ID it gets are
	// kept in StateDir so a restart reuses the same device.
	Password string
	// AccessToken is used instead of Password when set.
	AccessToken string
	// DeviceID is the device to log in as (password login) or the device
	// the access token belongs to. Empty: reuse the stored one or let the
	// server pick.
	DeviceID string
	// StateDir holds matrix-session.json (device, token, sync position) and,
	// with encryption, matrix-crypto.db. Required.
	StateDir string
	// AllowUsers lists Matrix user IDs whose invites are accepted and whose
	// messages are answered.
	AllowUsers []string
	// AllowServers lists homeserver names ("example.org") whose users are
	// all allowed.
	AllowServers []string
	// CommandPrefix addresses the bot in rooms ("!secgpt what's up").
	// Default "!secgpt".
	CommandPrefix string
	// PickleKey encrypts the crypto store's secrets at rest. Empty: a random
	// key is generated once and kept in the session file.
	PickleKey string
	// RecoveryKey, if set, makes the bot cross-sign its device at start from
	// the keys in secret storage (see docs/matrix.md).
	RecoveryKey string
	// DisableEncryption turns end-to-end encryption off even when compiled in.
	DisableEncryption bool
	// DeviceName is the display name of a newly created device. Default "SecGPT".
	DeviceName string
	// RetryBase is the first wait after a failed sync or send; it doubles up
	// to RetryMax. Defaults 1s and 1m.
	RetryBase, RetryMax time.Duration
	// PollTimeout is how long one /sync long-poll waits for events.
	// Default 30s.
	PollTimeout time.Duration
}

const defaultPrefix = "!secgpt"

func (c *Config) validate() error {
	var errs []error
	if c.Homeserver == "" {
		errs = append(errs, errors.New("homeserver URL is required"))
	} else if u, err := url.Parse(c.Homeserver); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		errs = append(errs, fmt.Errorf("homeserver %q is not an http(s) URL", c.Homeserver))
	}
	if c.AccessToken == "" && c.Password == "" {
		errs = append(errs, errors.New("either an access token or a password is required"))
	}
	if c.Password != "" && c.AccessToken == "" && c.UserID == "" {
		errs = append(errs, errors.New("user ID is required for password login"))
	}
	if c.UserID != "" {
		if _, _, err := id.UserID(c.UserID).Parse(); err != nil {
			errs = append(errs, fmt.Errorf("user ID %q: %w", c.UserID, err))
		}
	}
	if c.StateDir == "" {
		errs = append(errs, errors.New("state directory is required"))
	}
	if len(c.AllowUsers) == 0 && len(c.AllowServers) == 0 {
		errs = append(errs, errors.New("allow-list is empty: set allowed users or homeservers"))
	}
	for _, u := range c.AllowUsers {
		if _, _, err := id.UserID(u).Parse(); err != nil {
			errs = append(errs, fmt.Errorf("allowed user %q: %w", u, err))
		}
	}
	for _, s := range c.AllowServers {
		if s == "" || strings.ContainsAny(s, "@/ \t") {
			errs = append(errs, fmt.Errorf("allowed homeserver %q is not a server name", s))
		}
	}
	if c.CommandPrefix == "" {
		c.CommandPrefix = defaultPrefix
	}
	if c.DeviceName == "" {
		c.DeviceName = "SecGPT"
	}
	if c.RetryBase <= 0 {
		c.RetryBase = time.Second
	}
	if c.RetryMax <= 0 {
		c.RetryMax = time.Minute
	}
	if c.PollTimeout <= 0 {
		c.PollTimeout = 30 * time.Second
	}
	if c.RetryMax < c.RetryBase {
		c.RetryMax = c.RetryBase
	}
	return errors.Join(errs...)
}

// allowed reports whether u may invite and talk to the bot.
func (c *Config) allowed(u id.UserID) bool {
	for _, a := range c.AllowUsers {
		if id.UserID(a) == u {
			return true
		}
	}
	_, server, err := u.Parse()
	if err != nil {
		return false
	}
	for _, s := range c.AllowServers {
		if strings.EqualFold(s, server) {
			return true
		}
	}
	return false
}
