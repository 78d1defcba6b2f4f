#!/usr/bin/env bash
# The web client's tests: type check, unit tests (vitest), then the browser
# tests (playwright-core + Debian's Chromium) against the debug server binary
# in $CARGO_TARGET_DIR (build it first: `cargo build -p fussioncord`).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/fussioncord/target}"

if [ ! -d web/node_modules ] || [ web/package-lock.json -nt web/node_modules/.package-lock.json ]; then
  # See crates/webclient/build.rs for why `npm ci` may need the fallback.
  (cd web && { npm ci --no-audit --no-fund || npm install --no-save --no-audit --no-fund; })
fi
echo "== web: type check (svelte-check)"
npm --prefix web run --silent check
echo "== web: unit tests (vitest)"
npm --prefix web run --silent test
echo "== web: initial JavaScript size"
(cd web && npx vite build --outDir "${TMPDIR:-/tmp}/fc-web-size" --emptyOutDir --logLevel warn && node scripts/size.mjs "${TMPDIR:-/tmp}/fc-web-size" | tail -n1)
echo "== web: browser tests (Chromium, headless)"
bash scripts/browser.sh
node --test web/e2e/
