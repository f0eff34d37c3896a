#!/usr/bin/env bash
# The README's first command: set up, build, and run attnlab's main job on its embedded default —
# the default sweep (every variant at real layer shapes, decode over a context series and
# prefill, each implementation verified against the fp64 reference before it is timed) into
# results/default.json, a report of it (reports/out/default/report.html and report.md), then the
# KV-cache table of the model presets.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
build=${BUILD_DIR:-build}
out=results/default.json
status=0
if [[ -e $out.partial ]]; then
  "$build/attnlab" sweep default --out "$out" --resume || status=$?  # continue an interrupted run
else
  "$build/attnlab" sweep default --out "$out" || status=$?
fi
# A failed case is recorded in the results (exit 1); the report shows it, so write it anyway.
[[ -e $out ]] && "$build/attnlab" report "$out" --out reports/out/default
echo
"$build/attnlab" kv --context 32768
exit $status
