package validate

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
)

func loadCompose(t *testing.T, env map[string]string) (*types.Project, error) {
	t.Helper()
	path, err := filepath.Abs("../compose.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var envList []string
	for k, v := range env {
		envList = append(envList, k+"="+v)
	}
	opts, err := cli.NewProjectOptions([]string{path},
		cli.WithWorkingDirectory(filepath.Dir(path)),
		cli.WithEnv(envList),
	)
	if err != nil {
		t.Fatal(err)
	}
	return opts.LoadProject(context.Background())
}

// TestCompose loads deploy/compose.yaml through compose-go, which checks it
// against the Compose Specification schema and interpolates variables.
func TestCompose(t *testing.T) {
	p, err := loadCompose(t, map[string]string{"SLACK_BOT_TOKEN": "xoxb-x", "SLACK_APP_TOKEN": "xapp-x"})
	if err != nil {
		t.Fatalf("compose.yaml does not load: %v", err)
	}
	bot, ok := p.Services["secgpt"]
	if !ok {
		t.Fatal("no secgpt service")
	}
	redis, ok := p.Services["redis"]
	if !ok {
		t.Fatal("no redis service")
	}
	if bot.Deploy == nil || bot.Deploy.Replicas == nil || *bot.Deploy.Replicas != 2 {
		t.Errorf("secgpt replicas = %+v, want 2", bot.Deploy)
	}
	if u := bot.Environment["SECGPT_REDIS_URL"]; u == nil || !strings.HasPrefix(*u, "redis://redis:") {
		t.Errorf("SECGPT_REDIS_URL = %v", u)
	}
	if _, ok := bot.DependsOn["redis"]; !ok {
		t.Error("secgpt does not depend on redis")
	}
	for _, opt := range []string{"seccomp=unconfined", "apparmor=unconfined", "systempaths=unconfined"} {
		if !slices.Contains(bot.SecurityOpt, opt) {
			t.Errorf("secgpt lacks security_opt %s (docs/deploy.md)", opt)
		}
	}
	if len(bot.CapAdd) != 0 || bot.Privileged {
		t.Error("secgpt must not add capabilities or run privileged")
	}
	if len(bot.Ports) != 0 {
		t.Error("two replicas cannot publish one host port")
	}
	if redis.HealthCheck == nil {
		t.Error("redis has no healthcheck (secgpt waits for service_healthy)")
	}
	if _, ok := redis.Networks["egress"]; ok {
		t.Error("redis should sit on the internal network only")
	}
	if bot.Build == nil || bot.Build.Dockerfile != "Dockerfile" {
		t.Errorf("secgpt build = %+v", bot.Build)
	}
}

// TestComposeNeedsTokens: the file refuses to start without Slack tokens
// rather than starting replicas that cannot log in.
func TestComposeNeedsTokens(t *testing.T) {
	_, err := loadCompose(t, nil)
	if err == nil || !strings.Contains(err.Error(), "SLACK_BOT_TOKEN") {
		t.Errorf("load without tokens = %v, want an error naming SLACK_BOT_TOKEN", err)
	}
}

// TestDockerfile checks the promises docs/deploy.md makes about the image.
// It reads the file as text: there is no Docker engine here to build it.
func TestDockerfile(t *testing.T) {
	b, err := os.ReadFile("../../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	// Instructions, with backslash continuations joined and comments out.
	var lines []string
	cur := ""
	for _, l := range strings.Split(string(b), "\n") {
		t := strings.TrimSpace(l)
		if t == "" || strings.HasPrefix(t, "#") {
			continue
		}
		if strings.HasSuffix(t, "\\") {
			cur += strings.TrimSuffix(t, "\\") + " "
			continue
		}
		lines = append(lines, cur+t)
		cur = ""
	}
	has := func(prefix, sub string) bool {
		for _, l := range lines {
			if strings.HasPrefix(l, prefix) && strings.Contains(l, sub) {
				return true
			}
		}
		return false
	}
	for _, c := range []struct{ prefix, sub, why string }{
		{"RUN go build", "-tags goolm", "end-to-end encryption in the image"},
		{"RUN go build", "./cmd/secgpt-spoke ", "the lean spoke binary is built"},
		{"RUN go build", "./cmd/secgpt-spoke-local", "the smallest spoke binary is built"},
		{"COPY --from=build", "/out/secgpt-spoke /out/secgpt-spoke-local /usr/local/bin/", "they sit beside secgpt, where the hub looks for them"},
		{"USER", "10001", "non-root user"},
		{"HEALTHCHECK", `CMD ["/usr/local/bin/secgpt", "healthcheck"]`, "the health check runs secgpt healthcheck"},
		{"ENV", "SECGPT_LISTEN=:9090", "the listener the health check asks"},
	} {
		if !has(c.prefix, c.sub) {
			t.Errorf("Dockerfile lacks %s %q (%s)", c.prefix, c.sub, c.why)
		}
	}
	last := ""
	for _, l := range lines {
		if strings.HasPrefix(l, "USER ") {
			last = l
		}
	}
	if last == "" || strings.Contains(last, "root") || strings.HasPrefix(last, "USER 0") {
		t.Errorf("final USER %q is root", last)
	}
	// The MCP target (issue 19 item 11): Node and Python, back to the
	// unprivileged user, servers on the state volume; the default target
	// (the last stage) stays the lean image.
	stage, stages := "", map[string][]string{}
	var order []string
	for _, l := range lines {
		if strings.HasPrefix(l, "FROM ") {
			f := strings.Fields(l)
			stage = f[len(f)-1]
			order = append(order, stage)
		}
		stages[stage] = append(stages[stage], l)
	}
	mcp := strings.Join(stages["mcp"], "\n")
	for _, w := range []string{"FROM base AS mcp", "/usr/local/bin/node", "npm-cli.js", "python3", "USER 10001:10001"} {
		if !strings.Contains(mcp, w) {
			t.Errorf("mcp target lacks %q:\n%s", w, mcp)
		}
	}
	if l := stages["mcp"][len(stages["mcp"])-1]; l != "USER 10001:10001" {
		t.Errorf("mcp target ends with %q, not the unprivileged user", l)
	}
	if !has("VOLUME", "/var/lib/secgpt") || !has("ENV", "SECGPT_STORE_PATH=/var/lib/secgpt/") {
		t.Error("servers installed by mcp add (beside store.path) would not be on the volume")
	}
	if len(order) == 0 || order[len(order)-1] != "runtime" || strings.Join(stages["runtime"], "") != "FROM base AS runtime" {
		t.Errorf("the default target is %q (%v), want the lean image", order[len(order)-1], stages["runtime"])
	}
}
