// Package cli is the secgpt command: its flags, commands and help, and the
// wiring that builds a deployment from the configuration (store, model,
// sandbox, catalog, hub, adapters, HTTP listeners), one file per
// subsystem: buildWith (deployment.go) calls each in turn. cmd/secgpt is
// its main: it registers the bundled apps, serves a spoke when it is one,
// and otherwise calls Main.
//
// Only cmd/secgpt imports it.
package cli
