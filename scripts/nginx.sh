#!/usr/bin/env bash
# Debian's nginx, for the load-balancer test (crates/fussioncord/tests/suite/
# load_balancer.rs runs deploy/nginx/fussioncord.conf in front of two nodes,
# as a foreground process of its own on unprivileged ports; the package's
# own service is not used).
# Idempotent: installs only when it is missing; `apt-get update` only if the
# plain install fails.
set -euo pipefail
if command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ]; then
  exit 0
fi
echo "== installing nginx for the load-balancer test"
export DEBIAN_FRONTEND=noninteractive
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
if ! $SUDO apt-get install -y --no-install-recommends nginx >/dev/null; then
  $SUDO apt-get update -q >/dev/null
  $SUDO apt-get install -y --no-install-recommends nginx >/dev/null
fi
[ -x /usr/sbin/nginx ]
