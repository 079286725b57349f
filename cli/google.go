package cli

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"strings"

	"github.com/secgpt-go/secgpt/apps/drive"
	"github.com/secgpt-go/secgpt/apps/mail"
	"github.com/secgpt-go/secgpt/config"
	"github.com/secgpt-go/secgpt/core/ids"
	"github.com/secgpt-go/secgpt/core/state"
	"github.com/secgpt-go/secgpt/ops/connect"
)

// googleScopes are the scopes each bundled app's token carries: only what
// its one function calls (search and get read, send sends, delete moves to
// the trash, drive reads).
var googleScopes = map[ids.AppID][]string{
	mail.SearchID: {connect.ScopeGmailReadonly},
	mail.GetID:    {connect.ScopeGmailReadonly},
	mail.SendID:   {connect.ScopeGmailSend},
	mail.DeleteID: {connect.ScopeGmailModify},
	drive.ID:      {connect.ScopeDriveReadonly},
}

// googleAppScopes are the apps that get a linked user's token, each with
// the scopes its token carries: google.app_scopes, else the built-in ones.
// An app without either is a configuration error.
func googleAppScopes(cfg config.Config, apps []ids.AppID) (map[ids.AppID][]string, error) {
	out := map[ids.AppID][]string{}
	for _, a := range apps {
		sc, ok := cfg.Google.AppScopes[string(a)]
		if !ok {
			sc, ok = googleScopes[a]
		}
		if !ok || len(sc) == 0 {
			return nil, &config.KeyError{Key: "google.app_scopes." + string(a), Msg: "is needed: which scopes this app's token carries"}
		}
		out[a] = sc
	}
	return out, nil
}

// googleApps are the apps that get a linked user's token by default: the
// mail and drive apps whose configured backend is Google's.
func googleApps(cfg config.Config, installed []ids.AppID, settings map[ids.AppID]json.RawMessage) ([]ids.AppID, error) {
	if len(cfg.Google.Apps) > 0 {
		var out []ids.AppID
		for i, a := range cfg.Google.Apps {
			if !slices.Contains(installed, ids.AppID(a)) {
				return nil, &config.KeyError{Key: fmt.Sprintf("google.apps[%d]", i), Msg: fmt.Sprintf("app %q is not installed", a)}
			}
			out = append(out, ids.AppID(a))
		}
		return out, nil
	}
	google := map[ids.AppID]string{mail.SearchID: "gmail", mail.GetID: "gmail", mail.SendID: "gmail", mail.DeleteID: "gmail", drive.ID: "drive"}
	var out []ids.AppID
	for _, id := range installed {
		want, ok := google[id]
		if !ok {
			continue
		}
		var c struct {
			Backend string `json:"backend"`
		}
		_ = json.Unmarshal(settings[id], &c) // a bad section fails in the app, with its own error
		if c.Backend == want {
			out = append(out, id)
		}
	}
	return out, nil
}

// newGoogle wires "!connect google" when google.client_id is set: it
// returns nil when it is not. Without google.redirect_base_url it opens
// the loopback listener (the terminal's flow) and serves the callback there
// until the deployment closes; with it, the callback is the one handler of
// the public listener (server.public_listen).
func newGoogle(cfg config.Config, d *deployment, st state.Store, installed []ids.AppID, settings map[ids.AppID]json.RawMessage, log *slog.Logger) (*connect.Google, error) {
	gc := cfg.Google
	if gc.ClientID == "" {
		return nil, nil
	}
	key, err := connect.ParseKey(gc.TokenKey)
	if err != nil {
		return nil, &config.KeyError{Key: "google.token_key", Msg: err.Error()}
	}
	allowed, err := googleApps(cfg, installed, settings)
	if err != nil {
		return nil, err
	}
	if len(allowed) == 0 {
		log.Warn("google.client_id is set but no installed app uses Google (set apps.settings.search_gmail.backend: gmail, or google.apps)")
	}
	scopes, err := googleAppScopes(cfg, allowed)
	if err != nil {
		return nil, err
	}
	c := connect.Config{ClientID: gc.ClientID, ClientSecret: gc.ClientSecret, Scopes: gc.Scopes, Apps: scopes, Key: key, Logger: log,
		Linked: d.accountLinked}
	if gc.RedirectBaseURL != "" {
		// Not on server.listen: that one serves /metrics and /readyz
		// without authentication and must stay off the internet.
		if d.Public == nil {
			return nil, &config.KeyError{Key: "google.redirect_base_url", Msg: "needs server.public_listen: the callback is served on a listener of its own, apart from server.listen's /metrics and /readyz"}
		}
		c.RedirectURL = strings.TrimRight(gc.RedirectBaseURL, "/") + connect.CallbackPath
		g, err := connect.New(c, st)
		if err != nil {
			return nil, err
		}
		if err := d.Public.Handle(connect.CallbackPath, g); err != nil {
			return nil, fmt.Errorf("mount the google callback: %w", err)
		}
		return g, nil
	}
	ln, redirect, err := connect.ListenLoopback(gc.LoopbackAddr)
	if err != nil {
		return nil, &config.KeyError{Key: "google.loopback_addr", Msg: err.Error()}
	}
	c.RedirectURL = redirect
	g, err := connect.New(c, st)
	if err != nil {
		ln.Close()
		return nil, err
	}
	d.serveLoopback(ln, connect.CallbackPath, g, "google callback listener")
	log.Info("google accounts: consent links come back to a loopback listener; they work only in a browser on this machine (set google.redirect_base_url for Slack or Matrix)", "callback", redirect)
	return g, nil
}
