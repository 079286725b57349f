#!/bin/sh
# Validate deploy/ (Kubernetes manifests, compose file) and the Dockerfile
# without Docker or a cluster; see deploy/validate/doc.go. Its own module,
# so the bot's go.mod does not carry k8s.io/api and compose-go.
set -eu
cd "$(dirname "$0")/../deploy/validate"
exec go test -count=1 "$@" ./...
