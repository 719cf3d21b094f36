#!/usr/bin/env bash
# HTTP benchmark: requests per second and p99 latency of a generated route
# with the whole pipeline on (JWT auth, permission, typed validation with
# JSON Schema wording what fails, metrics, one JSON log line per request)
# against the same route written by hand on plain axum
# (tests/benches/http/plain: the same serde structs, constraint checks,
# HS256 verification and output JSON).
#
# The servers run in release on 127.0.0.1 and are driven by wrk with the
# same Lua script (http/post.lua: one POST /quotes body and a bearer
# token), fixed threads, connections and duration, taking turns for
# ROUNDS rounds (the order rotates every round) after a warm-up of each.
# Prints every run, then per server the median requests per second, p99
# and server CPU time per request (user + system, from /proc), and the
# ratio generated / plain. Record the result in README.md beside this
# script.
#
# The generated service logs at `info` (its default) to stdout, which goes
# to $LOGS (default /dev/null): every line is still formatted and written.
# The machine is shared: nothing is pinned; taking turns and medians are
# what make the figures comparable.
#
# COMPARE=/path/to/quote-service adds a third server, "compare": another
# build of the same generated crate (the runtime before a change, say).
#
# Settings (environment): ROUNDS (5), DURATION (10s), THREADS (2),
# CONNECTIONS (32), WARMUP (3s), PORT (28471: the servers listen on PORT,
# PORT+1, PORT+2), LOGS (/dev/null), COMPARE (unset).
set -euo pipefail
cd "$(dirname "$0")/../.."
repo="$PWD"

rounds="${ROUNDS:-5}"
duration="${DURATION:-10s}"
threads="${THREADS:-2}"
connections="${CONNECTIONS:-32}"
warmup="${WARMUP:-3s}"
first_port="${PORT:-28471}"
logs="${LOGS:-/dev/null}"
bench="$repo/tests/benches/http"
export CARGO_TARGET_DIR="$repo/target/generated-crates"

if ! command -v wrk >/dev/null; then
  echo "installing wrk (apt-get)" >&2
  if [ "$(id -u)" = 0 ]; then sudo=; else sudo=sudo; fi
  $sudo apt-get install -y wrk >/dev/null 2>&1 ||
    { $sudo apt-get update >/dev/null && $sudo apt-get install -y wrk >/dev/null; }
fi

# 1. svcc, the generated crate and the baseline, all in release; the
# workspace's lockfile pins the same dependency versions for both servers.
# (svcc too is built under $CARGO_TARGET_DIR.)
cargo build --release -q -p svcc
rm -rf "$bench/gen"
"$CARGO_TARGET_DIR/release/svcc" build --project "$bench" >/dev/null
cp "$repo/Cargo.lock" "$bench/gen/rust/Cargo.lock"
cp "$repo/Cargo.lock" "$bench/plain/Cargo.lock"
cargo build --release -q --manifest-path "$bench/gen/rust/Cargo.toml"
cargo build --release -q --manifest-path "$bench/plain/Cargo.toml"
gen_bin="$CARGO_TARGET_DIR/release/quote-service"
plain_bin="$CARGO_TARGET_DIR/release/plain-axum"

# 2. the servers, one secret, one token
export SVCC_JWT_SECRET="http-bench-secret-not-for-production"
TOKEN="$("$gen_bin" token --sub bench --role buyer --ttl 1h)"
export TOKEN
names=(gen plain)
if [ -n "${COMPARE:-}" ]; then names+=(compare); fi
declare -A port pid
work="$(mktemp -d)"
cleanup() {
  for p in "${pid[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
i=0
for name in "${names[@]}"; do
  port[$name]=$((first_port + i))
  i=$((i + 1))
  if (exec 3<>"/dev/tcp/127.0.0.1/${port[$name]}") 2>/dev/null; then
    echo "port ${port[$name]} is taken: set PORT to the first of ${#names[@]} free ports" >&2
    exit 1
  fi
  case "$name" in
    gen) PORT="${port[$name]}" "$gen_bin" serve >"$logs" 2>"$work/$name.err" & ;;
    plain) PORT="${port[$name]}" "$plain_bin" 2>"$work/$name.err" & ;;
    compare) PORT="${port[$name]}" "$COMPARE" serve >"$logs" 2>"$work/$name.err" & ;;
  esac
  pid[$name]=$!
done

body="$(sed -n 's/^wrk.body = \[\[\(.*\)\]\]$/\1/p' "$bench/post.lua")"
for name in "${names[@]}"; do
  for _ in $(seq 50); do
    curl -s -o /dev/null "http://127.0.0.1:${port[$name]}/" && break
    sleep 0.1
  done
  # every server answers 201 with the same JSON (but the id)
  curl -s -o "$work/$name.json" -w '%{http_code}\n' -X POST \
    "http://127.0.0.1:${port[$name]}/quotes" -H "Authorization: Bearer $TOKEN" \
    -H 'Content-Type: application/json' -d "$body" >"$work/$name.status"
  if [ "$(cat "$work/$name.status")" != 201 ]; then
    echo "$name answered $(cat "$work/$name.status"): $(cat "$work/$name.json")" >&2
    cat "$work/$name.err" >&2
    exit 1
  fi
  if ! diff <(jq -S 'del(.id)' "$work/gen.json") <(jq -S 'del(.id)' "$work/$name.json") >&2; then
    echo "$name and gen answer different JSON" >&2
    exit 1
  fi
done

# 3. load: warm-up, then rounds in rotating order
cpu_ticks() { # user + system clock ticks of a process so far
  awk '{ print $14 + $15 }' "/proc/$1/stat"
}
run() { # run NAME DURATION -> "NAME rps p50_us p99_us requests errors cpu_us_per_request"
  local out before after
  before="$(cpu_ticks "${pid[$1]}")"
  out="$(wrk -t"$threads" -c"$connections" -d"$2" --latency -s "$bench/post.lua" \
    "http://127.0.0.1:${port[$1]}" | grep '^RESULT')"
  after="$(cpu_ticks "${pid[$1]}")"
  echo "$out" | sed -E 's/.*rps=([0-9.]+) p50_us=([0-9]+) p99_us=([0-9]+) requests=([0-9]+) errors=([0-9]+).*/\1 \2 \3 \4 \5/' |
    awk -v name="$1" -v ticks="$((after - before))" -v hz="$(getconf CLK_TCK)" \
      '{ printf "%s %s %s %s %s %s %.1f\n", name, $1, $2, $3, $4, $5, ticks / hz * 1e6 / $4 }'
}
for name in "${names[@]}"; do run "$name" "$warmup" >/dev/null; done
echo "HTTP benchmark: wrk -t$threads -c$connections -d$duration, $rounds rounds, $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-6s %-8s %9s %8s %8s %9s %7s %11s\n' round server rps p50_ms p99_ms requests errors cpu_us/req
: >"$work/results"
order=("${names[@]}")
for r in $(seq "$rounds"); do
  for name in "${order[@]}"; do
    line="$(run "$name" "$duration")"
    echo "$line" >>"$work/results"
    echo "$r $line" | awk '{ printf "%-6s %-8s %9.0f %8.2f %8.2f %9s %7s %11s\n", $1, $2, $3, $4 / 1000, $5 / 1000, $6, $7, $8 }'
  done
  order=("${order[@]:1}" "${order[0]}")
done
echo "load at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
python3 - "$work/results" <<'PY'
import statistics, sys
runs = {}
for line in open(sys.argv[1]):
    name, rps, p50, p99, n, errors, cpu = line.split()
    runs.setdefault(name, []).append((float(rps), int(p99) / 1000, int(errors), float(cpu)))
# Within a round the servers ran minutes apart at most: the ratio of each
# round is less exposed to the machine's load changing than the ratio of
# the medians.
med = {}
for name, rs in runs.items():
    med[name] = [statistics.median(r[i] for r in rs) for i in (0, 1, 3)]
    print(f"{name:<8} median {med[name][0]:>7.0f} req/s, p99 {med[name][1]:.2f} ms, "
          f"server CPU {med[name][2]:.1f} us/request, errors {sum(r[2] for r in rs)}")
for name in runs:
    if name != "plain":
        print(f"{name} / plain: throughput {med[name][0] / med['plain'][0]:.1%} "
              f"(target: at least 85%), CPU per request {med[name][2] / med['plain'][2]:.2f}x")
        ratios = sorted(a[0] / b[0] for a, b in zip(runs[name], runs["plain"]))
        cpu = sorted(a[3] / b[3] for a, b in zip(runs[name], runs["plain"]))
        print(f"{name} / plain round by round: throughput median {statistics.median(ratios):.1%} "
              f"({ratios[0]:.1%} to {ratios[-1]:.1%}), CPU per request median "
              f"{statistics.median(cpu):.2f}x ({cpu[0]:.2f}x to {cpu[-1]:.2f}x)")
PY
