#!/usr/bin/env bash
# The README's second command (and what CI runs): set up, build, run the whole test suite under
# ctest, then the `attnlab verify` gate.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
build=${BUILD_DIR:-build}
ctest --test-dir "$build" --output-on-failure -j "$(nproc)"
"$build/attnlab" verify ci
