# Build: docker build -t secgpt .
# Run:   docker run --rm -it --cap-add SYS_ADMIN --security-opt seccomp=unconfined \
#          -v secgpt-state:/var/lib/secgpt secgpt            (terminal chat)
#        docker run ... -e SLACK_BOT_TOKEN -e SLACK_APP_TOKEN secgpt slack
# The sandbox creates namespaces, cgroups and its own seccomp filter for each
# spoke, which needs SYS_ADMIN in the container (or sandbox.mode: off, knowingly).
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN go build -trimpath -o /out/secgpt ./bot

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates && rm -rf /var/lib/apt/lists/*
COPY --from=build /out/secgpt /usr/local/bin/secgpt
ENV SECGPT_STORE_PATH=/var/lib/secgpt/secgpt.db
VOLUME /var/lib/secgpt
ENTRYPOINT ["/usr/local/bin/secgpt"]
