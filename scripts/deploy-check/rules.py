"""What the schemas cannot say about deploy/kubernetes/: the rules of
issue 19 for FussionCord's manifests. Usage: rules.py DRAIN_SECS DIR
(DRAIN_SECS: how long the server waits for in-flight requests on SIGTERM,
read from crates/server/src/lib.rs). Prints each broken rule; exit 1 if any."""

import glob
import os
import sys

import yaml

drain = int(sys.argv[1])
docs = []
for path in sorted(glob.glob(os.path.join(sys.argv[2], "*.yaml"))):
    with open(path) as f:
        docs += [(os.path.basename(path), d) for d in yaml.safe_load_all(f) if d]
errors = []


def check(ok, what):
    if not ok:
        errors.append(what)


def of_kind(kind):
    return [(f, d) for f, d in docs if d["kind"] == kind]


def matches(selector, labels):
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


config = {}
for _, d in of_kind("ConfigMap"):
    config.update(d.get("data", {}))
secret_keys = set()
for _, d in of_kind("Secret"):
    secret_keys |= set(d.get("stringData", {})) | set(d.get("data", {}))
for key in list(config) + sorted(secret_keys):
    check(key.startswith("FUSSIONCORD__") or key.startswith("AWS_"), f"{key}: not a FussionCord setting")
check("FUSSIONCORD__DATABASE__URL" in secret_keys, "the database URL belongs in the Secret")
check("FUSSIONCORD__DATABASE__URL" not in config, "the database URL must not be in the ConfigMap")
for endpoint in ["FUSSIONCORD__CLUSTER__NATS_URL", "FUSSIONCORD__RATELIMIT__REDIS_URL"]:
    check(endpoint in config, f"{endpoint}: missing from the ConfigMap")
grace_ms = int(config.get("FUSSIONCORD__GATEWAY__SHUTDOWN_GRACE_MS", "3000"))

roles = set()
for f, d in of_kind("Deployment"):
    name = f"{f}: {d['metadata']['name']}"
    pod = d["spec"]["template"]
    labels = pod["metadata"]["labels"]
    check(matches(d["spec"]["selector"]["matchLabels"], labels), f"{name}: selector does not match its pods")
    spec = pod["spec"]
    check(spec.get("securityContext", {}).get("runAsNonRoot") is True, f"{name}: pods must run as non-root")
    (c,) = spec["containers"]
    role = c["args"][c["args"].index("--role") + 1] if "--role" in c.get("args", []) else None
    check(role in ("api", "gateway"), f"{name}: `serve --role api|gateway` expected, got {c.get('args')}")
    roles.add(role)
    sc = c.get("securityContext", {})
    check(sc.get("allowPrivilegeEscalation") is False, f"{name}: allowPrivilegeEscalation must be false")
    check(sc.get("readOnlyRootFilesystem") is True, f"{name}: the root filesystem should be read-only")
    ports = {p.get("name") for p in c.get("ports", [])} | {p["containerPort"] for p in c.get("ports", [])}
    for probe, path in [("readinessProbe", "/readyz"), ("livenessProbe", "/healthz")]:
        get = c.get(probe, {}).get("httpGet", {})
        check(get.get("path") == path, f"{name}: {probe} must GET {path}")
        check(get.get("port") in ports, f"{name}: {probe} port {get.get('port')} is not a container port")
    for kind in ["requests", "limits"]:
        for res in ["cpu", "memory"]:
            check(res in c.get("resources", {}).get(kind, {}), f"{name}: resources.{kind}.{res} missing")
    refs = {(e.get("configMapRef") or e.get("secretRef") or {}).get("name") for e in c.get("envFrom", [])}
    check(refs == {"fussioncord"}, f"{name}: env from the fussioncord ConfigMap and Secret expected, got {refs}")
    pause = 0
    command = c.get("lifecycle", {}).get("preStop", {}).get("exec", {}).get("command", [])
    if command[:1] == ["sleep"]:
        pause = int(command[1])
    needed = pause + drain + grace_ms / 1000
    grace = spec.get("terminationGracePeriodSeconds", 30)
    check(grace > needed, f"{name}: terminationGracePeriodSeconds {grace} must exceed the drain ({needed:g} s)")
    services = [s for _, s in of_kind("Service") if matches(s["spec"].get("selector"), labels)]
    check(len(services) == 1, f"{name}: one Service should select its pods, found {len(services)}")
    pdbs = [p for _, p in of_kind("PodDisruptionBudget") if matches(p["spec"]["selector"].get("matchLabels"), labels)]
    check(len(pdbs) == 1, f"{name}: one PodDisruptionBudget should cover its pods, found {len(pdbs)}")
check(roles == {"api", "gateway"}, f"a Deployment per role (api, gateway) expected, found {sorted(map(str, roles))}")

for e in errors:
    print(f"ERROR {e}")
if errors:
    sys.exit(1)
print(f"rules: {len(docs)} resources, Deployments for {sorted(roles)} keep every rule")
