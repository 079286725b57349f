// Package validate checks the deployment files in deploy/ and the
// Dockerfile without a Docker engine or a Kubernetes cluster: the
// Kubernetes manifests are decoded strictly into the k8s.io/api types (an
// unknown or mistyped field fails), the compose file is loaded with
// compose-go (the Compose Specification's schema and interpolation), and
// both are checked for what docs/deploy.md promises (two replicas, Redis,
// the Secret, the sandbox's securityContext, probes on the listener).
//
// It is its own module so that the bot's go.mod does not carry the
// Kubernetes and Compose libraries. Run: cd deploy/validate && go test ./...
package validate
