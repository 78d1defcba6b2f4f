#!/usr/bin/env bash
# A seconds-long run of every benchmark scenario against a debug server, so
# the harness never rots. Figures are printed, never asserted; a scenario
# fails (and so does this script) only on a correctness problem: a lost or
# duplicated event, a failed request, a session that dropped.
# Real measurements use a release build: see docs/PERFORMANCE.md.
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/fussioncord/target}"
cargo build --locked -q -p fussioncord -p bench
BIN="$CARGO_TARGET_DIR/debug"
SERVER="$BIN/fussioncord"
OUT="$(mktemp -d -t fussioncord-bench-smoke.XXXXXX)"
SERVER_PID=""
cleanup() {
  if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
  rm -rf "$OUT"
}
trap cleanup EXIT

bench() {
  local name=$1; shift
  echo "== bench smoke: $name"
  "$BIN/fussioncord-bench" "$@" --json "$OUT/$name.json"
}

SPAWN=(--spawn --server-bin "$SERVER")
bench fanout-rate fanout "${SPAWN[@]}" --sessions 50 --senders 4 --rate 100 --duration 3
bench fanout-burst fanout "${SPAWN[@]}" --sessions 20 --senders 4 --duration 2
bench idle idle "${SPAWN[@]}" --sessions 200 --users 50 --hold 3 \
  --server-env FUSSIONCORD__GATEWAY__HEARTBEAT_INTERVAL_MS=1000
bench history history "${SPAWN[@]}" --messages 300 --duration 3
bench rest rest "${SPAWN[@]}" --authors 16 --duration 3 --automod
# Files: every upload, download and resize checked byte for byte.
bench media media "${SPAWN[@]}" --upload-mib 1 --concurrency 2 --duration 1
# Voice: main gateway op 4, the voice gateway over TLS (trusting the spawned
# server's self-signed certificate), IP discovery, encrypted RTP both ways.
bench voice voice "${SPAWN[@]}" --senders 2 --listeners 2 --duration 2 --max-loss 5

# Against a server that is already running, given by URL (as for any other
# Discord-compatible server).
DATA="$OUT/data"
FUSSIONCORD__AUTH__ARGON2_MEMORY_KIB=1024 FUSSIONCORD__AUTH__ARGON2_ITERATIONS=1 RUST_LOG=warn \
  FUSSIONCORD__RATELIMIT__ENABLED=false \
  FUSSIONCORD__VOICE__LISTEN=127.0.0.1:0 FUSSIONCORD__VOICE__UDP_PORT=0 FUSSIONCORD__VOICE__WEBRTC_UDP_PORT=0 \
  "$SERVER" serve --listen 127.0.0.1:0 --data-dir "$DATA" > "$OUT/server.out" 2> "$OUT/server.log" &
SERVER_PID=$!
for _ in $(seq 1 100); do
  grep -q "listening on" "$OUT/server.out" 2>/dev/null && break
  sleep 0.1
done
URL=$(sed -n 's/^FussionCord listening on //p' "$OUT/server.out")
[ -n "$URL" ] || { echo "the server did not start"; cat "$OUT/server.log"; exit 1; }
bench rest-by-url rest --base-url "$URL" --server-pid "$SERVER_PID" --authors 8 --duration 2
bench fanout-by-url fanout --base-url "$URL" --gateway-url "${URL/http:/ws:}" --server-pid "$SERVER_PID" \
  --sessions 10 --senders 2 --rate 50 --duration 2

# Across the nodes of a cluster: two nodes on a fresh PostgreSQL database
# sharing events through NATS (as the cluster tests need), posted to one,
# heard on the other.
echo "== bench smoke: fanout-cross-node"
BIN="$BIN" bash scripts/bench-cluster.sh cross --sessions 10 --senders 2 --rate 50 --duration 2 \
  --json "$OUT/fanout-cross-node.json"

echo "== bench smoke: every scenario ran without losing or duplicating an event, failing a request or a decryption"
