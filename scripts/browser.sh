#!/usr/bin/env bash
# Debian's Chromium for the web client's browser tests (playwright-core drives
# /usr/bin/chromium; Playwright's own browser downloads do not work here), and
# Debian's colour emoji font (fonts-noto-color-emoji): without one, emoji in
# messages, reactions and the UI render as empty boxes.
# Idempotent: installs only what is missing; `apt-get update` only if the
# plain install fails.
set -euo pipefail
missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
[ -e /usr/share/fonts/truetype/noto/NotoColorEmoji.ttf ] || missing+=(fonts-noto-color-emoji)
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
echo "== installing ${missing[*]} for the browser tests"
export DEBIAN_FRONTEND=noninteractive
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
if ! $SUDO apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null; then
  $SUDO apt-get update -q >/dev/null
  $SUDO apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null
fi
command -v chromium >/dev/null
