#!/usr/bin/env bash
# The SIGKILL crash tests with far more kills than CI runs, each round with
# a fresh seed, for a nightly job or a long run before a release:
#
#   bash tests/crash-nightly.sh            # 3 rounds of 500 kills a test
#   ROUNDS=10 KILLS=200 bash tests/crash-nightly.sh
#
# CI runs the same tests with their defaults (50 kills of OrderService, 20
# of the whole shop, 20 in each runtime crash test). A failing round
# prints its SVCC_CRASH_SEED: the shop tests repeat their random schedule
# from it (the runtime tests draw their kill moments from the OS).
set -euo pipefail
cd "$(dirname "$0")/.."

rounds=${ROUNDS:-3}
kills=${KILLS:-500}
tests=(
  "-p svcc-runtime --test durable sigkill"
  "-p svcc --test example_service sigkill"
  "-p svcc --test shop_saga every_saga"
)
for round in $(seq "$rounds"); do
  seed=$(( (RANDOM << 15 | RANDOM) + 1 ))
  for t in "${tests[@]}"; do
    echo "== round $round/$rounds: cargo test $t (SVCC_CRASH_KILLS=$kills SVCC_CRASH_SEED=$seed)"
    # shellcheck disable=SC2086 # $t is the test's arguments
    SVCC_CRASH_KILLS=$kills SVCC_CRASH_SEED=$seed cargo test --locked $t -- --nocapture
  done
done
echo "crash-nightly: $rounds rounds of $kills kills a test passed"
