#!/usr/bin/env bash
# Compares two builds of the server on this machine: the same scenarios
# against each, alternating (base, head, base, head, …) so that a change in
# the machine's load falls on both, and each figure's HEAD/BASE ratio.
#
#   scripts/bench-compare.sh [-n RUNS] BASE HEAD
#
# BASE and HEAD are each a `fussioncord` binary (a path) or a git revision
# of this repository. A revision is built in release from `git archive` of
# it, in a cache directory ($CACHE, default ~/.cache/fussioncord/bench-compare)
# with one target directory shared by every revision; the binary is kept per
# commit, so comparing against it again builds nothing.
#
# The harness is the same for both sides: $BENCH, or fussioncord-bench built
# in release from this checkout. Each run is `fussioncord-bench … --spawn
# --server-bin SIDE --json FILE`:
#   rest     64 authors for $DURATION s
#   fanout   1,000 sessions, 16 senders at burst, for $DURATION s
#   history  5,000 messages, one reader for $DURATION s
# RUNS (default 2) rounds; DURATION defaults to 10. The reports stay in $OUT
# (default: a new temporary directory). The table shows the mean of the runs
# for each side, every run's value, and HEAD/BASE: above 1 is more for
# rates, worse for latencies and CPU. Runs differ by tens of percent on a
# shared machine (docs/PERFORMANCE.md): read ratios near 1 as "no change".
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS=2
if [ "${1:-}" = "-n" ]; then RUNS=$2; shift 2; fi
if [ $# -ne 2 ]; then
  sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2
  exit 2
fi
command -v jq > /dev/null || { echo "bench-compare.sh needs jq" >&2; exit 2; }
DURATION=${DURATION:-10}
CACHE=${CACHE:-$HOME/.cache/fussioncord/bench-compare}
OUT=${OUT:-$(mktemp -d -t fussioncord-bench-compare.XXXXXX)}
mkdir -p "$OUT"

# A path to a binary as it is; a revision built once per commit.
server_bin() {
  if [ -f "$1" ] && [ -x "$1" ]; then realpath "$1"; return; fi
  local sha
  sha=$(git rev-parse --verify --quiet "$1^{commit}") || { echo "$1 is neither a binary nor a revision" >&2; exit 2; }
  local bin="$CACHE/bin/fussioncord-$sha"
  if [ ! -x "$bin" ]; then
    echo "== building $1 ($sha) in $CACHE" >&2
    local src="$CACHE/src-$sha"
    rm -rf "$src" && mkdir -p "$src" "$CACHE/bin"
    git archive "$sha" | tar -x -C "$src"
    # `git archive` dates every file at its commit: an older revision's
    # sources would look older than the artifacts the shared target
    # directory holds of a newer one, and cargo would not rebuild them.
    find "$src" -exec touch {} +
    # The web client's packages from this checkout, when it has them and
    # the lockfiles agree (otherwise the build installs its own).
    if [ -d web/node_modules ] && cmp -s web/package-lock.json "$src/web/package-lock.json"; then
      ln -s "$PWD/web/node_modules" "$src/web/node_modules"
    fi
    (cd "$src" && CARGO_TARGET_DIR="$CACHE/target" cargo build --release -p fussioncord >&2)
    cp "$CACHE/target/release/fussioncord" "$bin"
    rm -rf "$src"
  fi
  echo "$bin"
}

BASE_BIN=$(server_bin "$1")
HEAD_BIN=$(server_bin "$2")
if [ -z "${BENCH:-}" ]; then
  export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/fussioncord/target}"
  cargo build --release -q -p bench
  BENCH="$CARGO_TARGET_DIR/release/fussioncord-bench"
fi
echo "== base: $1 ($BASE_BIN)"
echo "== head: $2 ($HEAD_BIN)"
echo "== harness: $BENCH; $RUNS runs of ${DURATION}s per scenario and side; reports in $OUT"

FAILED=0
run() { # side binary scenario args…
  local side=$1 bin=$2 scenario=$3; shift 3
  local json="$OUT/$round-$side-$scenario.json"
  echo "== round $round/$RUNS, $side: $scenario (load average $(cut -d' ' -f1-3 /proc/loadavg))"
  "$BENCH" "$scenario" --spawn --server-bin "$bin" --json "$json" "$@" > "$OUT/$round-$side-$scenario.txt" 2>&1 \
    || { echo "   FAILED: see $OUT/$round-$side-$scenario.txt"; FAILED=1; }
}
for round in $(seq 1 "$RUNS"); do
  for side in base head; do
    bin=$BASE_BIN; [ $side = head ] && bin=$HEAD_BIN
    run $side "$bin" rest --authors 64 --duration "$DURATION"
    run $side "$bin" fanout --sessions 1000 --senders 16 --duration "$DURATION"
    run $side "$bin" history --messages 5000 --concurrency 1 --duration "$DURATION"
  done
done

# One row per figure: the mean of each side's runs, each run, HEAD/BASE.
for f in "$OUT"/*-*-*.json; do
  side=$(basename "$f" | cut -d- -f2)
  jq --arg side "$side" '. + {side: $side}' "$f"
done | jq -rs '
  def figures:
    .results as $r
    | if .scenario == "rest" then
        {"creates/s": $r.creates_per_s, "create p99 ms": $r.latency.p99_ms,
         "server CPU ms/create": ($r.server.cpu_seconds * 1000 / $r.messages_created)}
      elif .scenario == "fanout" then
        {"deliveries/s": $r.deliveries_per_s, "send→receive p99 ms": $r.send_to_receive.p99_ms,
         "server CPU µs/delivery": ($r.server.cpu_seconds * 1e6 / $r.deliveries)}
      else
        {"pages/s": $r.pages_per_s, "page p99 ms": $r.page_latency.p99_ms,
         "server CPU ms/page": ($r.server.cpu_seconds * 1000 / $r.pages)}
      end;
  def r2: . * 100 | round / 100;
  ["scenario", "figure", "base", "head", "head/base", "base runs", "head runs"],
  (map(. + {f: figures}) | group_by(.scenario)[] as $runs
   | ($runs[0].f | keys_unsorted)[] as $k
   | [$runs[] | select(.side == "base") | .f[$k]] as $b
   | [$runs[] | select(.side == "head") | .f[$k]] as $h
   | ($b | add / length) as $bm | ($h | add / length) as $hm
   | [$runs[0].scenario, $k, ($bm | r2), ($hm | r2),
      (if $bm > 0 then $hm / $bm * 1000 | round / 1000 else "-" end),
      ($b | map(r2 | tostring) | join(" / ")), ($h | map(r2 | tostring) | join(" / "))])
  | @tsv' | column -t -s $'\t'
if [ $FAILED = 1 ]; then echo "some runs failed (incorrect results, not slow ones): see above"; fi
exit $FAILED
