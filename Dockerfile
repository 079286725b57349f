# SecGPT-Go container image. docs/deploy.md has the full story; in short:
#
# Build: docker build -t secgpt .
# Run:   docker run --rm -it \
#          --security-opt seccomp=unconfined --security-opt apparmor=unconfined \
#          --security-opt systempaths=unconfined \
#          -v secgpt-state:/var/lib/secgpt secgpt chat
#        docker run ... -e SLACK_BOT_TOKEN -e SLACK_APP_TOKEN secgpt slack
#
# The bot runs as an unprivileged user (uid 10001) and needs no added
# capability: each spoke's sandbox is built from an unprivileged user
# namespace. What the runtime must allow, and why:
#   seccomp=unconfined     the runtime's default filter refuses clone/unshare
#                          with namespace flags, mount and Landlock calls; the
#                          sandbox installs its own, stricter filter in every
#                          spoke (sandbox/filter_linux.go).
#   apparmor=unconfined    docker-default denies mount(2), which the spoke
#                          needs for its read-only root, /tmp and /proc.
#   systempaths=unconfined the runtime masks parts of /proc; the kernel then
#                          refuses a fresh procfs mount in the spoke's PID
#                          namespace (it would reveal what the mask hides).
# The host kernel must allow unprivileged user namespaces
# (user.max_user_namespaces > 0; on Ubuntu 24.04 also
# kernel.apparmor_restrict_unprivileged_userns=0 or an AppArmor profile).
# `docker run ... secgpt doctor` prints which protections are active.

FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# -tags goolm: end-to-end encryption for Matrix with the pure-Go Olm.
RUN go build -trimpath -tags goolm -o /out/secgpt ./cmd/secgpt
# The lean spoke binaries: the hub runs spokes from them (sandbox.spoke_binary
# defaults to secgpt-spoke beside the secgpt binary; secgpt-spoke-local beside
# secgpt-spoke runs the apps that need no network, and the pool).
RUN go build -trimpath -o /out/ ./cmd/secgpt-spoke ./cmd/secgpt-spoke-local

# The lean image (the default target; "runtime" below selects it).
FROM debian:bookworm-slim AS base
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 secgpt \
 && useradd --system --uid 10001 --gid 10001 --home-dir /var/lib/secgpt --shell /usr/sbin/nologin secgpt \
 && install -d -o 10001 -g 10001 -m 0700 /var/lib/secgpt
COPY --from=build /out/secgpt /out/secgpt-spoke /out/secgpt-spoke-local /usr/local/bin/
ENV SECGPT_STORE_PATH=/var/lib/secgpt/secgpt.db \
    XDG_STATE_HOME=/var/lib/secgpt \
    SECGPT_LISTEN=:9090 \
    SECGPT_LOG_FORMAT=json
USER 10001:10001
WORKDIR /var/lib/secgpt
VOLUME /var/lib/secgpt
# /healthz, /readyz, /metrics (server.listen).
EXPOSE 9090
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["/usr/local/bin/secgpt", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/secgpt"]
CMD ["chat"]

# The image for MCP servers: base plus Node (npm) and Python, the
# interpreters npm and PyPI servers run on.
#   docker build --target mcp -t secgpt:mcp .
#   docker run ... -v secgpt-state:/var/lib/secgpt secgpt:mcp \
#     mcp add @modelcontextprotocol/server-memory@2026.8.31
# `secgpt mcp add` installs each server into mcp.install_dir, by default
# /var/lib/secgpt/mcp: on the state volume, never in the image's writable
# layer, so servers survive a new image and the container's root stays
# read-only. npm's cache (~/.npm) is on the volume too.
# Node 22 comes from the official image (Debian bookworm's nodejs is 18,
# older than current servers want); Python from Debian.
FROM base AS mcp
USER root
COPY --from=node:22-bookworm-slim /usr/local/bin/node /usr/local/bin/node
COPY --from=node:22-bookworm-slim /usr/local/lib/node_modules/npm /usr/local/lib/node_modules/npm
RUN ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm \
 && ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx \
 && apt-get update \
 && apt-get install -y --no-install-recommends python3 \
 && rm -rf /var/lib/apt/lists/*
USER 10001:10001

# The default target stays the lean image.
FROM base AS runtime
