#!/usr/bin/env bash
# Checks the deployment files (issue 19):
#   - deploy/kubernetes/*.yaml against Kubernetes' own schemas, strictly
#     (unknown fields, wrong types, unknown kinds fail), with
#     kubernetes-validate from PyPI (pinned in scripts/deploy-requirements.txt,
#     in a virtualenv under ~/.cache/fussioncord/deploy-venv; it carries the
#     schemas, so nothing is fetched while validating), then against the
#     rules of scripts/deploy-check/rules.py (probes, drain time, selectors,
#     non-root, resources); and the broken fixtures in scripts/deploy-check/
#     must fail, so a validator that passes everything is caught; and the
#     built server must accept every setting of the ConfigMap and Secret;
#   - deploy/systemd/fussioncord.service with `systemd-analyze verify`, where
#     systemd is installed, its ExecStart pointed at the built binary
#     ($FUSSIONCORD_BIN, default $CARGO_TARGET_DIR/debug/fussioncord); any
#     diagnostic fails it (systemd only warns about unknown keys).
# The nginx configuration is run for real by the suite's load_balancer test.
set -euo pipefail
cd "$(dirname "$0")/.."
cache="${FUSSIONCORD_CACHE:-$HOME/.cache/fussioncord}"
venv="$cache/deploy-venv"
requirements=scripts/deploy-requirements.txt
# The oldest Kubernetes release the manifests are meant for, and the newest
# the validator knows.
versions=(1.29 1.37)
mkdir -p "$cache"
# How long the server waits for in-flight requests on SIGTERM; the gateway's
# drain (gateway.shutdown_grace_ms) comes after it.
drain=$(sed -n 's/^const DRAIN: std::time::Duration = std::time::Duration::from_secs(\([0-9]*\));$/\1/p' crates/server/src/lib.rs)
[ -n "$drain" ] || { echo "the HTTP drain (const DRAIN in crates/server/src/lib.rs) was not found" >&2; exit 1; }

if ! [ -x "$venv/bin/kubernetes-validate" ] || ! cmp -s "$requirements" "$venv/.requirements"; then
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$requirements"
  cp "$requirements" "$venv/.requirements"
fi

# Passes only if every resource of the file passed: kubernetes-validate
# exits 0 on a kind it has no schema for, printing WARN.
validate() {
  local file=$1 version=$2 out
  out=$("$venv/bin/kubernetes-validate" --strict -k "$version" "$file" 2>&1) || { echo "$out"; return 1; }
  if grep -qv '^INFO .* passed for resource ' <<<"$out" || [ -z "$out" ]; then
    echo "$out"
    return 1
  fi
}

echo "== Kubernetes manifests: kubernetes-validate $("$venv/bin/kubernetes-validate" --version), strict, Kubernetes ${versions[*]}"
status=0
for file in deploy/kubernetes/*.yaml; do
  for version in "${versions[@]}"; do
    if validate "$file" "$version" >/dev/null; then
      echo "ok   $file ($version)"
    else
      echo "FAIL $file ($version):"
      validate "$file" "$version" | sed 's/^/     /' || true
      status=1
    fi
  done
done
for file in scripts/deploy-check/broken-*.yaml; do
  if validate "$file" "${versions[-1]}" >/dev/null; then
    echo "FAIL $file passed validation; it must not (is the validator checking anything?)"
    status=1
  else
    echo "ok   $file is refused, as it should be"
  fi
done
"$venv/bin/python" scripts/deploy-check/rules.py "$drain" deploy/kubernetes || status=1
# The rules must catch a grace period shorter than the drain.
broken=$(mktemp -d)
sed 's/terminationGracePeriodSeconds: .*/terminationGracePeriodSeconds: 10/' deploy/kubernetes/gateway.yaml >"$broken/gateway.yaml"
cp deploy/kubernetes/config.yaml deploy/kubernetes/api.yaml "$broken/"
if "$venv/bin/python" scripts/deploy-check/rules.py "$drain" "$broken" >/dev/null; then
  echo "FAIL the rules accept a terminationGracePeriodSeconds shorter than the drain"
  status=1
else
  echo "ok   the rules refuse a terminationGracePeriodSeconds shorter than the drain"
fi

bin="${FUSSIONCORD_BIN:-${CARGO_TARGET_DIR:-$HOME/.cache/fussioncord/target}/debug/fussioncord}"
[ -x "$bin" ] || { echo "FAIL $bin is not built (set FUSSIONCORD_BIN, or build first: cargo build -p fussioncord)"; exit 1; }

# The server reads every FUSSIONCORD__* key of the ConfigMap and Secret
# (an unknown or mistyped key stops start-up). `moderation score` loads the
# configuration first and, given no input, stops there; the misspelt key
# added second proves the configuration was read.
mapfile -d '' settings < <("$venv/bin/python" - deploy/kubernetes/config.yaml <<'PY'
import sys, yaml
for d in yaml.safe_load_all(open(sys.argv[1])):
    for k, v in {**(d or {}).get("data", {}), **(d or {}).get("stringData", {})}.items():
        sys.stdout.write(f"{k}={v}\0")
PY
)
if out=$(env -i "${settings[@]}" "$bin" moderation score </dev/null 2>&1); then
  echo "ok   the server takes the ${#settings[@]} settings of deploy/kubernetes/config.yaml"
else
  echo "FAIL the server refuses the settings of deploy/kubernetes/config.yaml: $out"
  status=1
fi
if env -i "${settings[@]}" FUSSIONCORD__CLUSTER__NATS_ULR=x "$bin" moderation score </dev/null >/dev/null 2>&1; then
  echo "FAIL a misspelt setting (FUSSIONCORD__CLUSTER__NATS_ULR) was not refused: the check above checks nothing"
  status=1
fi

echo "== systemd unit"
# systemd's stop timeout must outlast the drain (HTTP, then 3 s for the gateway).
stop=$(sed -n 's/^TimeoutStopSec=\([0-9]*\)$/\1/p' deploy/systemd/fussioncord.service)
if [ -n "$stop" ] && [ "$stop" -gt $((drain + 3)) ]; then
  echo "ok   TimeoutStopSec=$stop outlasts the drain ($drain s + 3 s)"
else
  echo "FAIL TimeoutStopSec (${stop:-unset}) must be a number of seconds above the drain ($drain s + 3 s)"
  status=1
fi
if command -v systemd-analyze >/dev/null 2>&1; then
  verify() {
    local out
    sed "s#/usr/local/bin/fussioncord#$bin#g; s#@BINARY@#$bin#g" "$1" >"$broken/$(basename "$1")"
    out=$(systemd-analyze verify "$broken/$(basename "$1")" 2>&1) && [ -z "$out" ] || { echo "$out"; return 1; }
  }
  if out=$(verify deploy/systemd/fussioncord.service); then
    echo "ok   deploy/systemd/fussioncord.service ($(systemd-analyze --version | head -n1))"
  else
    echo "FAIL deploy/systemd/fussioncord.service:"
    sed 's/^/     /' <<<"$out"
    status=1
  fi
  if verify scripts/deploy-check/broken.service >/dev/null; then
    echo "FAIL scripts/deploy-check/broken.service passed systemd-analyze verify; it must not"
    status=1
  else
    echo "ok   scripts/deploy-check/broken.service is refused, as it should be"
  fi
else
  echo "systemd-analyze is not installed: the unit is NOT verified"
fi
rm -rf "$broken"
exit $status
