#!/usr/bin/env bash
# fanout across the nodes of a cluster (docs/PERFORMANCE.md, "Cluster"):
# nodes of the `fussioncord` binary on one fresh PostgreSQL database
# (TEST_DATABASE_URL's server), sharing events through NATS JetStream
# (NATS_URL, default nats://127.0.0.1:4222) under a stream of their own,
# which is deleted afterwards, as is the database.
#
#   scripts/bench-cluster.sh single [fanout options…]
#       one node, no NATS (the in-process bus): the baseline
#   scripts/bench-cluster.sh same [fanout options…]
#       two nodes with NATS; senders and sessions both on node A
#   scripts/bench-cluster.sh cross [fanout options…]
#       two nodes with NATS; senders post to node A, sessions on node B
#
# BIN is the directory holding `fussioncord` and `fussioncord-bench`
# (default: $CARGO_TARGET_DIR/release). The fanout options are passed on
# as given (e.g. --sessions 200 --senders 4 --rate 200 --duration 10
# --json out.json); --base-url, --gateway-url, --server-pid and
# --peer-pid are set here. It fails when fussioncord-bench does: on lost
# or duplicated deliveries, failed requests or dropped sessions, never on
# a figure (scripts/bench-smoke.sh runs `cross` for seconds).
set -euo pipefail
cd "$(dirname "$0")/.."
MODE=${1:?usage: bench-cluster.sh single|same|cross [fanout options]}
shift
BIN=${BIN:-${CARGO_TARGET_DIR:-$HOME/.cache/fussioncord/target}/release}
ADMIN_URL=${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}
NATS_URL=${NATS_URL:-nats://127.0.0.1:4222}
TAG=$(printf '%012x' "$(( (RANDOM << 30) ^ (RANDOM << 15) ^ RANDOM ))")
DB="fc_bench_$TAG"
STREAM="FC_BENCH_$TAG"
OUT=$(mktemp -d -t fussioncord-bench-cluster.XXXXXX)
PIDS=()

delete_stream() {
  # The JetStream API over the plain NATS protocol: no client needed.
  local hostport=${NATS_URL#nats://}
  exec 3<>"/dev/tcp/${hostport%:*}/${hostport#*:}" || return 0
  printf 'CONNECT {"verbose":false}\r\nSUB _fcbench.reply 1\r\nPUB $JS.API.STREAM.DELETE.%s _fcbench.reply 0\r\n\r\n' "$STREAM" >&3
  timeout 5 grep -m1 -q 'MSG _fcbench.reply' <&3 || echo "(could not confirm that stream $STREAM was deleted)" >&2
  exec 3>&-
}

cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  [ "$MODE" = single ] || delete_stream
  psql -q "$ADMIN_URL" -c "DROP DATABASE IF EXISTS $DB" >/dev/null 2>&1 || true
  rm -rf "$OUT"
}
trap cleanup EXIT

psql -q "$ADMIN_URL" -c "CREATE DATABASE $DB" >/dev/null
DB_URL="${ADMIN_URL%/*}/$DB"

# node WORKER [extra env…]: starts a node, sets URL once it listens. The
# settings are those `fussioncord-bench --spawn` gives its server: cheap
# password hashing, no rate limits, no caps on sockets and sessions.
node() {
  local worker=$1; shift
  env FUSSIONCORD__DATABASE__URL="$DB_URL" FUSSIONCORD__SNOWFLAKE__WORKER="$worker" \
    FUSSIONCORD__AUTH__ARGON2_MEMORY_KIB=1024 FUSSIONCORD__AUTH__ARGON2_ITERATIONS=1 \
    FUSSIONCORD__RATELIMIT__ENABLED=false RUST_LOG=warn \
    FUSSIONCORD__GATEWAY__MAX_CONNECTIONS=1000000 FUSSIONCORD__GATEWAY__MAX_CONNECTIONS_PER_ADDRESS=1000000 \
    FUSSIONCORD__GATEWAY__MAX_SESSIONS_PER_USER=1000000 FUSSIONCORD__GATEWAY__SESSION_START_TOTAL=1000000000 \
    FUSSIONCORD__HTTP__MAX_CONNECTIONS=1000000 \
    FUSSIONCORD__VOICE__LISTEN=127.0.0.1:0 FUSSIONCORD__VOICE__UDP_PORT=0 FUSSIONCORD__VOICE__WEBRTC_UDP_PORT=0 \
    "$@" "$BIN/fussioncord" serve --listen 127.0.0.1:0 --data-dir "$OUT/node$worker" \
    > "$OUT/node$worker.out" 2> "$OUT/node$worker.log" &
  PIDS+=($!)
  for _ in $(seq 1 300); do
    grep -q "listening on" "$OUT/node$worker.out" 2>/dev/null && break
    sleep 0.1
  done
  URL=$(sed -n 's/^FussionCord listening on //p' "$OUT/node$worker.out")
  [ -n "$URL" ] || { echo "node $worker did not start:"; cat "$OUT/node$worker.log"; exit 1; }
}

CLUSTER=(FUSSIONCORD__CLUSTER__NATS_URL="$NATS_URL" FUSSIONCORD__CLUSTER__STREAM="$STREAM"
  FUSSIONCORD__CLUSTER__SUBJECT_PREFIX="fcbench.$TAG" FUSSIONCORD__CLUSTER__MAX_AGE_SECS=600)
case "$MODE" in
  single)
    node 1
    A_URL=$URL A_PID=${PIDS[0]}
    "$BIN/fussioncord-bench" fanout --base-url "$A_URL" --server-pid "$A_PID" "$@"
    ;;
  same | cross)
    node 1 "${CLUSTER[@]}"
    A_URL=$URL A_PID=${PIDS[0]}
    node 2 "${CLUSTER[@]}"
    B_URL=$URL B_PID=${PIDS[1]}
    RECEIVERS=$A_URL
    [ "$MODE" = cross ] && RECEIVERS=$B_URL
    echo "== senders on node A ($A_URL, pid $A_PID), sessions on ${RECEIVERS} (node B is pid $B_PID)" >&2
    "$BIN/fussioncord-bench" fanout --base-url "$A_URL" --gateway-url "${RECEIVERS/http:/ws:}" \
      --server-pid "$A_PID" --peer-pid "$B_PID" "$@"
    ;;
  *) echo "unknown mode $MODE (single, same or cross)"; exit 2 ;;
esac
