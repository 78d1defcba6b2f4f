#!/usr/bin/env bash
# Installs the pinned bot libraries the tests drive: discord.py, disnake and hikari (PyPI) in a
# virtualenv, and discord.js, Oceanic.js and Eris (npm) from tests/bots/js/package-lock.json. The
# virtualenv also gets prometheus_client, whose OpenMetrics parser tests/suite/ops.rs
# uses to read /metrics.
set -euo pipefail
cd "$(dirname "$0")/.."
cache="${FUSSIONCORD_CACHE:-$HOME/.cache/fussioncord}"
venv="$cache/venv"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r crates/fussioncord/tests/bots/py/requirements.txt
(cd crates/fussioncord/tests/bots/js && npm ci --no-audit --no-fund --loglevel=error)
echo "bot libraries ready: $venv/bin/python, crates/fussioncord/tests/bots/js/node_modules"
