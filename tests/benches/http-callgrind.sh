#!/usr/bin/env bash
# Instructions per request of the HTTP benchmark's servers (see http.sh):
# each server runs under callgrind with instrumentation off, takes WARMUP
# requests, then instrumentation goes on for REQUESTS sequential requests
# on one keep-alive connection (the same POST /quotes as http.sh), and
# the total (user space, every thread) is divided by REQUESTS. Unlike
# wrk's throughput it does not depend on the machine's load.
#
# Run http.sh first (it builds both servers). Usage:
#   bash tests/benches/http-callgrind.sh [BINARY...]
# BINARY: a build of quote-service (run as `BINARY serve`) or plain-axum
# (any name containing "plain"); default: the two that http.sh built.
# Settings: REQUESTS (2000), WARMUP (200), PORT (28481).
set -euo pipefail
[ -n "${TRACE:-}" ] && set -x
cd "$(dirname "$0")/../.."
repo="$PWD"
requests="${REQUESTS:-2000}"
warmup="${WARMUP:-200}"
port="${PORT:-28481}"
release="$repo/target/generated-crates/release"
bins=("$@")
if [ ${#bins[@]} = 0 ]; then bins=("$release/quote-service" "$release/plain-axum"); fi
export SVCC_JWT_SECRET="http-bench-secret-not-for-production"
TOKEN="$("$release/quote-service" token --sub bench --role buyer --ttl 1h)"
export TOKEN
body="$(sed -n 's/^wrk.body = \[\[\(.*\)\]\]$/\1/p' "$repo/tests/benches/http/post.lua")"
export BODY="$body"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

client() { # client PORT N: N POST requests on one connection, all must be 201
  python3 - "$1" "$2" <<'PY'
import http.client, os, sys
port, n = int(sys.argv[1]), int(sys.argv[2])
c = http.client.HTTPConnection("127.0.0.1", port)
headers = {"Content-Type": "application/json", "Authorization": "Bearer " + os.environ["TOKEN"]}
for _ in range(n):
    c.request("POST", "/quotes", os.environ["BODY"], headers)
    r = c.getresponse()
    r.read()
    if r.status != 201:
        sys.exit(f"answer {r.status}")
PY
}

for bin in "${bins[@]}"; do
  out="$work/callgrind.out"
  case "$bin" in
    *plain*) PORT="$port" valgrind --tool=callgrind --instr-atstart=no \
      --callgrind-out-file="$out" "$bin" >/dev/null 2>"$work/err" & ;;
    *) PORT="$port" valgrind --tool=callgrind --instr-atstart=no \
      --callgrind-out-file="$out" "$bin" serve >/dev/null 2>"$work/err" & ;;
  esac
  pid=$!
  for _ in $(seq 100); do
    curl -s -o /dev/null "http://127.0.0.1:$port/" && break
    sleep 0.2
  done
  client "$port" "$warmup"
  callgrind_control -i on "$pid" >/dev/null
  client "$port" "$requests"
  callgrind_control -i off "$pid" >/dev/null
  kill -TERM "$pid"
  wait "$pid" 2>/dev/null || true
  total="$(callgrind_annotate "$out" 2>/dev/null | awk '/PROGRAM TOTALS/ && !n { gsub(",", "", $1); print $1; n = 1 }')"
  echo "$(basename "$bin"): $((total / requests)) instructions per request ($total over $requests requests)"
  # kept for callgrind_annotate
  cp "$out" "$repo/target/callgrind.$(basename "$bin").out"
done
