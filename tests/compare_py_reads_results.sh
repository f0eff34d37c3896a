#!/usr/bin/env bash
# ctest: Google Benchmark's tools/compare.py (Debian's libbenchmark-tools) reads attnlab sweep
# results: two runs of the ci sweep are compared case by case. Exits 77 (ctest: skipped) when
# compare.py or scipy is not installed; scripts/setup.sh installs both.
set -euo pipefail
attnlab=$1
compare=/usr/share/benchmark/compare.py
if [[ ! -f $compare ]] || ! /usr/bin/python3 -c "import scipy" 2>/dev/null; then
  echo "skipped: $compare or python3-scipy is not installed"
  exit 77
fi
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
"$attnlab" sweep ci --out "$dir/a.json" >/dev/null 2>&1
"$attnlab" sweep ci --out "$dir/b.json" >/dev/null 2>&1
/usr/bin/python3 "$compare" --no-color benchmarks "$dir/a.json" "$dir/b.json" >"$dir/compare.txt"
grep -q "^decode/tiny-gqa/standard/cpu/fp32/b1/ctx16/t1/.*_median" "$dir/compare.txt"
grep -q "^prefill/tiny-mla/absorb/cpu/fp32/b2/seq8/t1/.*_median" "$dir/compare.txt"
grep -q "U Test" "$dir/compare.txt"  # its Mann-Whitney test ran on the repetitions
echo "compare.py read both results files"
