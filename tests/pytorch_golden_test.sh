#!/usr/bin/env bash
# The PyTorch example (examples/pytorch) checked through golden files: attnlab golden on every ci
# case shape for tiny-mla, the module run in both forms (float64, judged at the fp64 bound), then
# absorb with kv_b_proj's bias dropped (seed 002's bug), which compare must FAIL, naming cases.
# Exit 77 (ctest: skipped) with the reason when Debian's python3-torch is not installed.
# usage: pytorch_golden_test.sh ATTNLAB SOURCE_DIR
set -euo pipefail
attnlab=$1 source_dir=$2
python=/usr/bin/python3
if ! "$python" -c "import torch" 2>/dev/null; then
  echo "skipped: $python cannot import torch (Debian package python3-torch; scripts/setup.sh installs it)"
  exit 77
fi
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
"$attnlab" golden --model tiny-mla --cases ci --out "$dir/golden"
for form in naive absorb; do
  "$python" "$source_dir/examples/pytorch/run_golden.py" "$dir/golden" "$dir/$form" --form $form --dtype float64
  "$attnlab" compare "$dir/golden" "$dir/$form" --dtype fp64 | tail -1
done
"$python" "$source_dir/examples/pytorch/run_golden.py" "$dir/golden" "$dir/bad" --form absorb --drop-kv-b-bias
status=0
"$attnlab" compare "$dir/golden" "$dir/bad" >"$dir/bad.txt" || status=$?
tail -1 "$dir/bad.txt"
if [[ $status -ne 1 ]] || ! grep -q "000-tiny-mla-b2-s9-seed1-prefill .*FAIL" "$dir/bad.txt"; then
  echo "FAILED: compare did not fail the absorb form without kv_b_proj's bias (exit $status)"
  exit 1
fi
echo "ok: dropped kv_b_proj bias reported FAIL, e.g. $(grep -m1 FAIL "$dir/bad.txt" | awk '{print $1}')"
