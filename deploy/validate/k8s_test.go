package validate

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"sigs.k8s.io/yaml"
)

const k8sDir = "../kubernetes"

// object is one decoded manifest document.
type object struct {
	file string
	kind string
	name string
	v    any
}

// newObject returns an empty value of the Go type for apiVersion/kind.
func newObject(apiVersion, kind string) (any, error) {
	switch apiVersion + "/" + kind {
	case "apps/v1/Deployment":
		return &appsv1.Deployment{}, nil
	case "v1/Service":
		return &corev1.Service{}, nil
	case "v1/Secret":
		return &corev1.Secret{}, nil
	case "v1/Namespace":
		return &corev1.Namespace{}, nil
	case "networking.k8s.io/v1/NetworkPolicy":
		return &networkingv1.NetworkPolicy{}, nil
	case "policy/v1/PodDisruptionBudget":
		return &policyv1.PodDisruptionBudget{}, nil
	}
	return nil, fmt.Errorf("no schema for %s %s", apiVersion, kind)
}

var docSep = regexp.MustCompile(`(?m)^---\s*$`)

// strictDecode turns YAML into JSON and decodes it refusing unknown fields,
// which is how a typo like "securityContex" or a field at the wrong level
// is caught.
func strictDecode(doc []byte, v any) error {
	j, err := yaml.YAMLToJSON(doc)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(j))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

func loadManifests(t *testing.T) []object {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(k8sDir, "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no manifests in %s: %v", k8sDir, err)
	}
	var out []object
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for i, doc := range docSep.Split(string(b), -1) {
			if strings.TrimSpace(stripComments(doc)) == "" {
				continue
			}
			var head struct {
				APIVersion string `json:"apiVersion"`
				Kind       string `json:"kind"`
				Metadata   struct {
					Name string `json:"name"`
				} `json:"metadata"`
			}
			if err := yaml.Unmarshal([]byte(doc), &head); err != nil {
				t.Fatalf("%s doc %d: %v", f, i, err)
			}
			if head.Kind == "Kustomization" {
				checkKustomization(t, f, []byte(doc), files)
				continue
			}
			v, err := newObject(head.APIVersion, head.Kind)
			if err != nil {
				t.Fatalf("%s doc %d: %v", f, i, err)
			}
			if err := strictDecode([]byte(doc), v); err != nil {
				t.Errorf("%s doc %d (%s %s): %v", f, i, head.Kind, head.Metadata.Name, err)
				continue
			}
			out = append(out, object{file: filepath.Base(f), kind: head.Kind, name: head.Metadata.Name, v: v})
		}
	}
	return out
}

func stripComments(s string) string {
	var b strings.Builder
	for _, l := range strings.Split(s, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(l), "#") {
			b.WriteString(l + "\n")
		}
	}
	return b.String()
}

// checkKustomization: every manifest is listed, and nothing else.
func checkKustomization(t *testing.T, file string, doc []byte, files []string) {
	t.Helper()
	var k struct {
		APIVersion string   `json:"apiVersion"`
		Kind       string   `json:"kind"`
		Resources  []string `json:"resources"`
	}
	if err := strictDecode(doc, &k); err != nil {
		t.Errorf("%s: %v", file, err)
		return
	}
	listed := map[string]bool{}
	for _, r := range k.Resources {
		listed[r] = true
		if _, err := os.Stat(filepath.Join(k8sDir, r)); err != nil {
			t.Errorf("kustomization lists %s: %v", r, err)
		}
	}
	for _, f := range files {
		if b := filepath.Base(f); b != "kustomization.yaml" && !listed[b] {
			t.Errorf("kustomization does not list %s", b)
		}
	}
}

func find[T any](t *testing.T, objs []object, kind, name string) T {
	t.Helper()
	for _, o := range objs {
		if o.kind == kind && o.name == name {
			return o.v.(T)
		}
	}
	t.Fatalf("no %s %q in the manifests", kind, name)
	var zero T
	return zero
}

func TestKubernetesManifests(t *testing.T) {
	objs := loadManifests(t)
	for _, o := range objs {
		t.Logf("%s: %s %s decoded strictly", o.file, o.kind, o.name)
	}
	bot := find[*appsv1.Deployment](t, objs, "Deployment", "secgpt")
	redis := find[*appsv1.Deployment](t, objs, "Deployment", "redis")
	secret := find[*corev1.Secret](t, objs, "Secret", "secgpt")
	find[*corev1.Service](t, objs, "Service", "redis")
	find[*corev1.Namespace](t, objs, "Namespace", "secgpt")

	if bot.Spec.Replicas == nil || *bot.Spec.Replicas != 2 {
		t.Errorf("secgpt replicas = %v, want 2", bot.Spec.Replicas)
	}
	for _, d := range []*appsv1.Deployment{bot, redis} {
		sel := d.Spec.Selector.MatchLabels
		for k, v := range sel {
			if d.Spec.Template.Labels[k] != v {
				t.Errorf("%s: selector %s=%s does not match the pod template", d.Name, k, v)
			}
		}
	}
	for _, s := range []string{"redis"} {
		svc := find[*corev1.Service](t, objs, "Service", s)
		d := find[*appsv1.Deployment](t, objs, "Deployment", s)
		for k, v := range svc.Spec.Selector {
			if d.Spec.Template.Labels[k] != v {
				t.Errorf("service %s selects %s=%s, which no %s pod has", s, k, v, s)
			}
		}
	}

	pod := bot.Spec.Template.Spec
	psc := pod.SecurityContext
	if psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot || psc.RunAsUser == nil || *psc.RunAsUser == 0 {
		t.Errorf("secgpt pod must run as a non-root uid: %+v", psc)
	}
	if psc == nil || psc.SeccompProfile == nil || psc.SeccompProfile.Type != corev1.SeccompProfileTypeUnconfined {
		t.Error("secgpt pod: seccompProfile must be Unconfined (the sandbox installs its own filter per spoke)")
	}
	if psc == nil || psc.AppArmorProfile == nil || psc.AppArmorProfile.Type != corev1.AppArmorProfileTypeUnconfined {
		t.Error("secgpt pod: appArmorProfile must be Unconfined (spokes mount)")
	}
	if pod.HostUsers == nil || *pod.HostUsers {
		t.Error("secgpt pod: hostUsers must be false (procMount Unmasked needs a pod user namespace)")
	}
	if len(pod.Containers) != 1 {
		t.Fatalf("secgpt pod has %d containers", len(pod.Containers))
	}
	c := pod.Containers[0]
	csc := c.SecurityContext
	if csc == nil || csc.AllowPrivilegeEscalation == nil || *csc.AllowPrivilegeEscalation {
		t.Error("secgpt container: allowPrivilegeEscalation must be false")
	}
	if csc == nil || csc.Capabilities == nil || len(csc.Capabilities.Drop) != 1 || csc.Capabilities.Drop[0] != "ALL" || len(csc.Capabilities.Add) != 0 {
		t.Error("secgpt container: capabilities must drop ALL and add none")
	}
	if csc == nil || csc.Privileged != nil && *csc.Privileged {
		t.Error("secgpt container must not be privileged")
	}
	if csc == nil || csc.ProcMount == nil || *csc.ProcMount != corev1.UnmaskedProcMount {
		t.Error("secgpt container: procMount must be Unmasked (spokes mount their own /proc)")
	}
	if csc == nil || csc.ReadOnlyRootFilesystem == nil || !*csc.ReadOnlyRootFilesystem {
		t.Error("secgpt container: root filesystem should be read-only")
	}
	mounts := map[string]bool{}
	for _, m := range c.VolumeMounts {
		mounts[m.MountPath] = true
	}
	if !mounts["/tmp"] {
		t.Error("secgpt container: a read-only root needs a writable /tmp (spoke work directories)")
	}

	env := map[string]string{}
	for _, e := range c.Env {
		env[e.Name] = e.Value
	}
	if !strings.HasPrefix(env["SECGPT_REDIS_URL"], "redis://redis.") {
		t.Errorf("SECGPT_REDIS_URL = %q, want the redis Service", env["SECGPT_REDIS_URL"])
	}
	port := strings.TrimPrefix(env["SECGPT_LISTEN"], ":")
	var httpPort int32
	for _, p := range c.Ports {
		if p.Name == "http" {
			httpPort = p.ContainerPort
		}
	}
	if port == "" || fmt.Sprint(httpPort) != port {
		t.Errorf("SECGPT_LISTEN %q and containerPort http %d disagree", env["SECGPT_LISTEN"], httpPort)
	}
	for name, probe := range map[string]*corev1.Probe{"liveness": c.LivenessProbe, "readiness": c.ReadinessProbe} {
		want := map[string]string{"liveness": "/healthz", "readiness": "/readyz"}[name]
		if probe == nil || probe.HTTPGet == nil || probe.HTTPGet.Path != want {
			t.Errorf("%s probe must GET %s", name, want)
		}
	}
	refsSecret := false
	for _, ef := range c.EnvFrom {
		if ef.SecretRef != nil && ef.SecretRef.Name == secret.Name {
			refsSecret = true
		}
	}
	if !refsSecret {
		t.Errorf("secgpt container does not take its tokens from Secret %s", secret.Name)
	}
	for _, k := range []string{"SLACK_BOT_TOKEN", "SLACK_APP_TOKEN"} {
		if _, ok := secret.StringData[k]; !ok {
			t.Errorf("Secret lacks %s", k)
		}
	}
	for k, v := range secret.StringData {
		if v != "" && !strings.Contains(v, "REPLACE-ME") {
			t.Errorf("Secret %s holds a value that looks real: commit placeholders only", k)
		}
	}
}

// TestStrictDecodeCatchesMistakes shows the check can fail: a misspelt
// field and a field of the wrong type are both refused.
func TestStrictDecodeCatchesMistakes(t *testing.T) {
	for name, doc := range map[string]string{
		"misspelt field": "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\nspec:\n  replica: 2\n",
		"wrong type":     "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\nspec:\n  replicas: two\n",
		"wrong level":    "apiVersion: v1\nkind: Service\nmetadata: {name: x}\nports: []\n",
	} {
		var d appsv1.Deployment
		var s corev1.Service
		var v any = &d
		if strings.Contains(doc, "Service") {
			v = &s
		}
		if err := strictDecode([]byte(doc), v); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
