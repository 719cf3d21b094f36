#!/usr/bin/env bash
# svcc against Microsoft TypeSpec on the same API (see tests/src/typespec.rs):
# times `svcc build --target openapi` and `tsp compile . --emit
# @typespec/openapi3` in turn on this machine, checks both outputs with
# the same validators (openapi-spec-validator, and redocly's recommended
# rules: no error), and prints the medians and their ratio.
#
#   bash tests/benches/vs-typespec.sh
#
# Environment: RUNS (timed runs of each compiler, default 5), SIZES
# (RESOURCESxOPERATIONS_PER_RESOURCE, default "40x10 200x10": 400 and 2,000
# operations, a service per resource), ONE_SERVICE_SIZES (the same, every
# resource in one service, as one large public API is; default "40x10
# 200x10 800x10": 400, 2,000 and 8,000 operations; the growth from each
# size to the next is printed), KEEP=1 keeps the generated projects,
# SVCC=PATH times that svcc binary instead of the one just built (to
# compare two versions).
# Needs cargo, npm (TypeSpec and its Node >= 22 come from
# tests/benches/typespec/package-lock.json) and python3.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
runs=${RUNS:-5}
sizes=${SIZES-"40x10 200x10"}
one_service_sizes=${ONE_SERVICE_SIZES-"40x10 200x10 800x10"}
target=50

echo "== TypeSpec (npm ci in tests/benches/typespec)"
typespec="$root/tests/benches/typespec"
npm ci --prefix "$typespec" --no-audit --no-fund --loglevel=error
export PATH="$typespec/node_modules/.bin:$PATH"
if ! node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 22 ? 0 : 1)'; then
  echo "error: TypeSpec needs Node >= 22, found $(node --version)" >&2
  exit 1
fi
echo "node $(node --version), tsp $(tsp --version | tail -n 1)"

echo "== svcc (release)"
cargo build --release -q -p svcc -p svcc-tests
bin="${CARGO_TARGET_DIR:-$root/target}/release"
svcc="${SVCC:-$bin/svcc}"
"$svcc" --version

if ! command -v openapi-spec-validator >/dev/null 2>&1; then
  python3 -m pip install --quiet --disable-pip-version-check -r tests/tools/requirements.txt
fi
openapi-spec-validator --version
redocly="$root/tests/tools/node_modules/.bin/redocly"
if [[ ! -x $redocly ]]; then
  npm ci --prefix "$root/tests/tools" --no-audit --no-fund --loglevel=error
fi
export REDOCLY_TELEMETRY=off
echo "redocly $("$redocly" --version)"

# The generated projects live in WORK_DIR (default ~/.cache/svcc-bench).
# svcc writes a file per service, so the cost of creating files is part of
# what is measured; on this project's sandboxed machines it depends on the
# folder and the hour (2026-12-07: 200 files of 20 KB took 6-9 ms under
# /root, 30-110 ms under /tmp or /work at times, something outside our
# reach watching them), so the script prints what it costs where it runs.
mkdir -p "${WORK_DIR:=$HOME/.cache/svcc-bench}"
work=$(mktemp -d "$WORK_DIR/vs-typespec.XXXXXX")
if [[ ${KEEP:-0} == 1 ]]; then
  echo "projects kept in $work"
else
  trap 'rm -rf "$work"' EXIT
fi
python3 "$root/tests/benches/fs-probe.py" "$work"

# Runs a command, its output into a log; exits with the log on failure.
# Sets `elapsed` to the wall time in nanoseconds.
elapsed=0
timed() {
  local log=$1
  shift
  local start
  start=$(date +%s%N)
  if ! "$@" >"$log" 2>&1; then
    echo "error: \`$*\` failed:" >&2
    cat "$log" >&2
    exit 1
  fi
  elapsed=$(($(date +%s%N) - start))
}

# Median of nanosecond counts, in milliseconds.
median_ms() {
  printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END {
    m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
    printf "%.1f", m / 1e6 }'
}

# Checks that both outputs describe the same operations (method and path).
same_operations() {
  python3 - "$@" <<'EOF'
import sys, yaml
def ops(paths):
    out = set()
    for p in paths:
        with open(p) as f:
            doc = yaml.safe_load(f)
        for path, item in doc.get("paths", {}).items():
            out |= {f"{m.upper()} {path}" for m in item if m in ("get", "post", "put", "patch", "delete")}
    return out
svcc, tsp = ops(sys.argv[2:]), ops([sys.argv[1]])
if svcc != tsp:
    print(f"operations differ: only svcc {sorted(svcc - tsp)[:5]}, only tsp {sorted(tsp - svcc)[:5]}")
    sys.exit(1)
print(len(svcc))
EOF
}

rows=()
runs_of=()
for size in $sizes; do runs_of+=("services $size"); done
for size in $one_service_sizes; do runs_of+=("one $size"); done
for shape_size in "${runs_of[@]}"; do
  shape=${shape_size% *}
  size=${shape_size#* }
  resources=${size%x*}
  per=${size#*x}
  operations=$((resources * per))
  dir="$work/$shape-$operations"
  if [[ $shape == one ]]; then
    echo "== $operations operations in one service ($resources resources x $per)"
    "$bin/svcc-vs-typespec" "$dir" "$resources" "$per" --one-service
  else
    echo "== $operations operations ($resources services x $per)"
    "$bin/svcc-vs-typespec" "$dir" "$resources" "$per"
  fi
  ln -s "$typespec/node_modules" "$dir/typespec/node_modules"

  svcc_ns=()
  tsp_ns=()
  for ((run = 1; run <= runs; run++)); do
    rm -rf "$dir/svcc/gen"
    timed "$dir/svcc.log" "$svcc" build --target openapi --project "$dir/svcc"
    svcc_ns+=("$elapsed")
    rm -rf "$dir/typespec/tsp-output"
    cd "$dir/typespec"
    timed "$dir/tsp.log" tsp compile . --emit @typespec/openapi3
    cd "$root"
    tsp_ns+=("$elapsed")
    echo "run $run: svcc $((svcc_ns[-1] / 1000000)) ms, tsp $((tsp_ns[-1] / 1000000)) ms"
  done
  if grep -qi "warning" "$dir/tsp.log"; then
    echo "tsp warned:" >&2
    cat "$dir/tsp.log" >&2
  fi

  svcc_docs=("$dir"/svcc/gen/openapi/*.yaml)
  tsp_doc="$dir/typespec/tsp-output/@typespec/openapi3/openapi.yaml"
  checked=$(openapi-spec-validator "${svcc_docs[@]}" "$tsp_doc" 2>&1) || {
    echo "$checked" >&2
    echo "error: openapi-spec-validator rejected a document" >&2
    exit 1
  }
  valid=$(grep -c ": OK$" <<<"$checked" || true)
  if ((valid != ${#svcc_docs[@]} + 1)); then
    echo "$checked" >&2
    echo "error: openapi-spec-validator accepted $valid of $((${#svcc_docs[@]} + 1)) documents" >&2
    exit 1
  fi
  for doc in "${svcc_docs[@]}" "$tsp_doc"; do
    if ! linted=$("$redocly" lint --format=stylish "$doc" 2>&1) || grep -q " error " <<<"$linted"; then
      echo "$linted" >&2
      echo "error: redocly lint (recommended) found errors in $doc" >&2
      exit 1
    fi
  done
  count=$(same_operations "$tsp_doc" "${svcc_docs[@]}")
  echo "openapi-spec-validator and redocly lint: ${#svcc_docs[@]} svcc documents and 1 TypeSpec document OK; $count operations in both"

  svcc_med=$(median_ms "${svcc_ns[@]}")
  tsp_med=$(median_ms "${tsp_ns[@]}")
  ratio=$(awk -v s="$svcc_med" -v t="$tsp_med" 'BEGIN { printf "%.0f", t / s }')
  rows+=("$shape|$operations|$svcc_med|$tsp_med|${ratio}x")
done

echo
python3 "$root/tests/benches/fs-probe.py" "$work"
echo "medians of $runs runs each, alternating, on $(nproc) cores"
printf '%-12s | %-10s | %-12s | %-12s | %-16s | %s\n' services operations "svcc median" "tsp median" "ratio (tsp/svcc)" "growth svcc, tsp"
printf '%s\n' "-------------+------------+--------------+--------------+------------------+-----------------"
last_shape="" last_ops=0 last_svcc=0 last_tsp=0
for row in "${rows[@]}"; do
  IFS='|' read -r shape operations svcc_med tsp_med ratio <<<"$row"
  growth=""
  if [[ $shape == "$last_shape" ]]; then
    growth=$(awk -v n="$operations" -v m="$last_ops" -v s="$svcc_med" -v a="$last_svcc" -v t="$tsp_med" -v b="$last_tsp" \
      'BEGIN { printf "x%.2f, x%.2f (size x%g)", s / a, t / b, n / m }')
  fi
  label=$([[ $shape == one ]] && echo "one" || echo "per resource")
  printf '%-12s | %-10s | %9s ms | %9s ms | %-16s | %s\n' "$label" "$operations" "$svcc_med" "$tsp_med" "$ratio" "$growth"
  last_shape=$shape last_ops=$operations last_svcc=$svcc_med last_tsp=$tsp_med
done
echo "target: svcc at least ${target}x faster"
