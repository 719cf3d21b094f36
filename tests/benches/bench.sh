#!/usr/bin/env bash
# Whole-process benchmarks of svcc on generated corpora (tests/src/corpus.rs).
#
# Many services: `svcc check` and `svcc build` at 10, 100 and 1,000 services
# (10 routes each), the malformed corpus, a no-op rebuild, and the build at
# 1,250 and 5,000 services.
# One dimension of one project, each at N and 4N (5N for 400 -> 2,000) with
# the growth between them (issues 23 and 24: every one within 2x of
# linear): one service of 400, 2,000 and 8,000 operations (N/2 types),
# built for every target but rust and for rust (and 10,000 operations for
# rust's peak memory); one type of 2,500 and 10,000 fields (rust); extends
# chains of 1,000 and 4,000 types (check); a misspelt type name of 300 KB
# and 1.2 MB (check); the OpenAPI target alone of one service of 400,
# 2,000 and 8,000 operations, with its `emit openapi` stage from
# `--timings`; and, when rustfmt is installed, the rust target of 50, 200
# and 1,250 services (10 routes each), which formats every file (1,250
# also without rustfmt, and with SVCC_BEFORE=PATH, another binary).
#
# Each figure is the median of RUNS runs (default 5; RUNS_LARGE, default 3,
# for the runs over a second) of the release binary: wall time, CPU time
# (user + system; the growth verdicts use it, since the wall time of a
# shared machine moves with the load) and the largest peak resident memory
# seen (measure.py beside this script). Record the output in README.md
# with the machine and what else ran. SVCC=PATH measures that binary
# instead of the one just built; SECTIONS="services shapes openapi rustfmt" picks
# sections.
set -euo pipefail
cd "$(dirname "$0")/../.."

runs="${RUNS:-5}"
runs_large="${RUNS_LARGE:-3}"
sections="${SECTIONS:-services shapes openapi rustfmt}"
cargo build --release -q -p svcc -p svcc-tests
bin="${CARGO_TARGET_DIR:-target}/release"
svcc="${SVCC:-$bin/svcc}"
corpus="$bin/svcc-corpus"
measure_py="$PWD/tests/benches/measure.py"
# The generated projects live in WORK_DIR (default ~/.cache/svcc-bench).
# svcc writes a file per service, so the cost of creating files is part of
# what is measured; on this project's sandboxed machines it depends on the
# folder and the hour (2026-12-07: 200 files of 20 KB took 6-9 ms under
# /root, 30-110 ms under /tmp or /work at times, something outside our
# reach watching them), so the script prints what it costs where it runs.
mkdir -p "${WORK_DIR:=$HOME/.cache/svcc-bench}"
work="$(mktemp -d "$WORK_DIR/bench.XXXXXX")"
trap 'rm -rf "$work"' EXIT
python3 tests/benches/fs-probe.py "$work"
figures="$work/figures.jsonl"

# A PATH without rustfmt, so that a build measures svcc alone.
no_rustfmt_path=""
IFS=: read -r -a path_dirs <<<"$PATH"
for d in "${path_dirs[@]}"; do
  if [ ! -x "$d/rustfmt" ]; then
    no_rustfmt_path="${no_rustfmt_path:+$no_rustfmt_path:}$d"
  fi
done

# measure NAME [measure.py options] -- CMD...: medians of $runs runs
measure() {
  local name="$1"
  shift
  python3 "$measure_py" --runs "$runs" --json "$figures" "$name" "$@"
}
# the same, $runs_large runs
measure_large() {
  local name="$1"
  shift
  python3 "$measure_py" --runs "$runs_large" --json "$figures" "$name" "$@"
}
growth() {
  python3 "$measure_py" ratio "$figures" "$@"
}

echo "svcc benchmarks: medians of $runs runs ($runs_large for the large ones), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-44s %12s %12s %10s\n' "what" "wall" "CPU" "peak RSS"

if [[ " $sections " == *" services "* ]]; then
  for n in 10 100 1000; do
    "$corpus" "$work/c$n" "$n" 10
  done
  "$corpus" "$work/bad" 1000 10 --malformed 100
  for n in 10 100 1000; do
    measure "check, $n services" -- "$svcc" check --project "$work/c$n"
  done
  measure "check, malformed (100 errors)" -- "$svcc" check --project "$work/bad"
  for n in 10 100 1000; do
    measure "build, $n services" --before "rm -rf $work/c$n/gen" -- "$svcc" build --project "$work/c$n"
  done
  "$svcc" build --project "$work/c1000" 2>/dev/null
  measure "no-op rebuild, 1000 services" -- "$svcc" build --project "$work/c1000"
  for n in 1250 5000; do
    "$corpus" "$work/c$n" "$n" 10
    measure_large "build, $n services" --before "rm -rf $work/c$n/gen" -- "$svcc" build --project "$work/c$n"
  done
  growth "build, 1250 services" "build, 5000 services" 4
fi

if [[ " $sections " == *" shapes "* ]]; then
  for n in 400 2000 8000; do
    "$corpus" "$work/os$n" --one-service "$n"
    measure "build, one service of $n operations" --before "rm -rf $work/os$n/gen" -- "$svcc" build --project "$work/os$n"
  done
  growth "build, one service of 400 operations" "build, one service of 2000 operations" 5
  growth "build, one service of 2000 operations" "build, one service of 8000 operations" 4
  for n in 500 2000; do
    [ -d "$work/os$n" ] || "$corpus" "$work/os$n" --one-service "$n"
    measure_large "rust, one service of $n operations" --before "rm -rf $work/os$n/gen" --env "PATH=$no_rustfmt_path" -- "$svcc" build --target rust --project "$work/os$n"
  done
  growth "rust, one service of 500 operations" "rust, one service of 2000 operations" 4
  "$corpus" "$work/os10000" --one-service 10000
  python3 "$measure_py" --runs 1 --json "$figures" "rust, one service of 10000 operations" --before "rm -rf $work/os10000/gen" --env "PATH=$no_rustfmt_path" -- "$svcc" build --target rust --project "$work/os10000"
  rm -rf "$work/os10000"
  for n in 2500 10000; do
    "$corpus" "$work/ot$n" --one-type "$n"
    measure_large "rust, one type of $n fields" --before "rm -rf $work/ot$n/gen" --env "PATH=$no_rustfmt_path" -- "$svcc" build --target rust --project "$work/ot$n"
  done
  growth "rust, one type of 2500 fields" "rust, one type of 10000 fields" 4
  for n in 1000 4000; do
    "$corpus" "$work/ec$n" --extends-chain "$n"
    measure "check, extends chain of $n types" -- "$svcc" check --project "$work/ec$n"
  done
  growth "check, extends chain of 1000 types" "check, extends chain of 4000 types" 4
  for n in 300000 1200000; do
    "$corpus" "$work/ln$n" --long-unknown-name "$n"
    measure "check, unknown type name of $n bytes" -- "$svcc" check --project "$work/ln$n"
  done
  growth "check, unknown type name of 300000 bytes" "check, unknown type name of 1200000 bytes" 4
fi

if [[ " $sections " == *" openapi "* ]]; then
  for n in 400 2000 8000; do
    [ -d "$work/os$n" ] || "$corpus" "$work/os$n" --one-service "$n"
    measure "openapi, one service of $n operations" --stage "emit openapi" --before "rm -rf $work/os$n/gen" -- "$svcc" build --target openapi --timings --project "$work/os$n"
  done
  growth "openapi, one service of 400 operations" "openapi, one service of 2000 operations" 5
  growth "openapi, one service of 2000 operations" "openapi, one service of 8000 operations" 4
fi

if [[ " $sections " == *" rustfmt "* ]]; then
  if command -v rustfmt >/dev/null 2>&1; then
    for n in 50 200; do
      "$corpus" "$work/r$n" "$n" 10
      measure_large "rust with rustfmt, $n services" --before "rm -rf $work/r$n/gen" -- "$svcc" build --target rust --project "$work/r$n"
    done
    growth "rust with rustfmt, 50 services" "rust with rustfmt, 200 services" 4
    "$svcc" build --target rust --project "$work/r200" 2>/dev/null
    sed -i 's/description: Catalog 0$/description: Catalog zero/' "$work/r200/manifests/catalog0000/service.yaml"
    measure_large "rust with rustfmt, 200 services, one changed" --before "sed -i 's/Catalog zero\$/Catalog 0/; t; s/description: Catalog 0\$/description: Catalog zero/' $work/r200/manifests/catalog0000/service.yaml" -- "$svcc" build --target rust --project "$work/r200"
    rm -rf "$work/r50" "$work/r200"
    # 1,250 services (5,000 .rs files): against the same build without
    # rustfmt, and against SVCC_BEFORE (another binary, say one that runs a
    # rustfmt per file) when given
    "$corpus" "$work/r1250" 1250 10
    measure_large "rust, 1250 services, no rustfmt" --before "rm -rf $work/r1250/gen" --env "PATH=$no_rustfmt_path" -- "$svcc" build --target rust --project "$work/r1250"
    measure_large "rust with rustfmt, 1250 services" --before "rm -rf $work/r1250/gen" -- "$svcc" build --target rust --project "$work/r1250"
    python3 "$measure_py" compare "$figures" "rust, 1250 services, no rustfmt" "rust with rustfmt, 1250 services"
    if [ -n "${SVCC_BEFORE:-}" ]; then
      measure_large "rust with rustfmt, 1250 services, SVCC_BEFORE" --before "rm -rf $work/r1250/gen" -- "$SVCC_BEFORE" build --target rust --project "$work/r1250"
      python3 "$measure_py" compare "$figures" "rust with rustfmt, 1250 services" "rust with rustfmt, 1250 services, SVCC_BEFORE"
    fi
  else
    echo "(rustfmt is not installed: the rustfmt section is skipped)"
  fi
fi
python3 tests/benches/fs-probe.py "$work"
