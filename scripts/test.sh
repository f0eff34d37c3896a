#!/usr/bin/env bash
# The README's second command (and what CI runs): set up, build, run the whole test suite under
# ctest, then the `attnlab verify` gate, then a short run of each fuzz harness (scripts/fuzz.sh;
# FUZZ_SECONDS each, default 30) that fails on any crash.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
build=${BUILD_DIR:-build}
ctest --test-dir "$build" --output-on-failure -j "$(nproc)"
"$build/attnlab" verify ci
if bash scripts/fuzz.sh available; then
  bash scripts/fuzz.sh build
  bash scripts/fuzz.sh run "${FUZZ_SECONDS:-30}"
else
  echo "test: clang++ with libFuzzer not found; the fuzz harnesses did not run" >&2
  exit 1
fi
