#!/usr/bin/env bash
# The README's first command: set up, build, and run attnlab's main job on its embedded default —
# verify every implementation against the fp64 reference, then print the KV-cache table of the
# model presets.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
build=${BUILD_DIR:-build}
"$build/attnlab" verify
echo
"$build/attnlab" kv --context 32768
