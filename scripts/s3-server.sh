#!/usr/bin/env bash
# The S3-protocol server the media tests run against (TEST_MEDIA=s3): moto's
# server mode from PyPI, every package pinned in scripts/s3-requirements.txt,
# in a virtualenv under ~/.cache/fussioncord/s3-venv (reinstalled only when
# that file changes). It listens on 127.0.0.1:5055 unless TEST_S3_ENDPOINT
# (http://host:port) says otherwise, and keeps objects in memory.
#
#   scripts/s3-server.sh install  installs it (idempotent; about 20 s the first time)
#   scripts/s3-server.sh start    installs, starts it in the background unless
#                                 something already answers there, waits for it
#   scripts/s3-server.sh stop     stops the server that `start` started
set -euo pipefail
cd "$(dirname "$0")/.."
cache="${FUSSIONCORD_CACHE:-$HOME/.cache/fussioncord}"
venv="$cache/s3-venv"
requirements=scripts/s3-requirements.txt
endpoint="${TEST_S3_ENDPOINT:-http://127.0.0.1:5055}"
hostport="${endpoint#*://}"
hostport="${hostport%%/*}"
host="${hostport%:*}"
port="${hostport##*:}"
pidfile="$cache/s3-server-$port.pid"
log="$cache/s3-server-$port.log"
mkdir -p "$cache"

answers() { (exec 3<>"/dev/tcp/$host/$port") 2>/dev/null; }

install() {
  if [ -x "$venv/bin/moto_server" ] && cmp -s "$requirements" "$venv/.requirements"; then
    return
  fi
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$requirements"
  cp "$requirements" "$venv/.requirements"
}

case "${1:-}" in
  install)
    exec 9>"$cache/s3-server.lock"
    flock 9
    install
    ;;
  start)
    # One start at a time (the test harness may call this from several tests).
    exec 9>"$cache/s3-server.lock"
    flock 9
    if answers; then
      exit 0
    fi
    install
    # setsid: the server outlives this script and is not in its process group;
    # it must not hold the lock (fd 9).
    setsid "$venv/bin/moto_server" -H "$host" -p "$port" >"$log" 2>&1 </dev/null 9>&- &
    echo $! >"$pidfile"
    for _ in $(seq 1 100); do
      if answers; then
        echo "S3 server (moto) on $host:$port, pid $(cat "$pidfile")"
        exit 0
      fi
      sleep 0.2
    done
    echo "the S3 server did not start on $host:$port; its log ($log):" >&2
    tail -n 20 "$log" >&2 || true
    exit 1
    ;;
  stop)
    if [ -f "$pidfile" ]; then
      pid="$(cat "$pidfile")"
      # Only the server this script started, if it still runs.
      if grep -q moto_server "/proc/$pid/cmdline" 2>/dev/null; then
        kill "$pid" || true
      fi
      rm -f "$pidfile"
    fi
    ;;
  *)
    echo "usage: $0 install|start|stop" >&2
    exit 2
    ;;
esac
