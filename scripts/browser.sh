#!/usr/bin/env bash
# Debian's Chromium for the web client's browser tests (playwright-core drives
# /usr/bin/chromium; Playwright's own browser downloads do not work here).
# Idempotent: installs only when it is missing; `apt-get update` only if the
# plain install fails.
set -euo pipefail
if command -v chromium >/dev/null 2>&1; then
  exit 0
fi
echo "== installing Debian's chromium for the browser tests"
export DEBIAN_FRONTEND=noninteractive
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
if ! $SUDO apt-get install -y --no-install-recommends chromium >/dev/null; then
  $SUDO apt-get update -q >/dev/null
  $SUDO apt-get install -y --no-install-recommends chromium >/dev/null
fi
command -v chromium >/dev/null
