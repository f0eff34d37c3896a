#!/usr/bin/env bash
# ctest: `attnlab report` in a real browser. Runs the ci sweep and a report of it, then headless
# Chromium (Debian's chromium) opens report.html and the test checks that
#   - the page loads without console messages (a script error shows as "Uncaught ..."),
#   - the page's own inline check found every chart drawn with all its data points
#     (<body data-chart-check="ok">), and no chart was skipped,
#   - that check can fail: a copy of the page with the data points removed must be caught;
# and keeps a screenshot as an artifact (ARTIFACT_DIR/report.png, path printed).
# Usage: report_browser_test.sh ATTNLAB ARTIFACT_DIR. Exits 77 (ctest: skipped) when chromium or
# gnuplot is not installed; scripts/setup.sh installs both.
set -euo pipefail
attnlab=$1
artifacts=$2
chromium=$(command -v chromium || command -v chromium-browser || true)
if [[ -z $chromium ]]; then
  echo "skipped: chromium is not installed (apt-get install chromium)"
  exit 77
fi
if ! command -v gnuplot >/dev/null; then
  echo "skipped: gnuplot is not installed (apt-get install gnuplot-nox)"
  exit 77
fi
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT

"$attnlab" sweep ci --out "$dir/ci.json" >/dev/null 2>&1
"$attnlab" report "$dir/ci.json" --out "$dir/report" >"$dir/report.log"
html=$dir/report/report.html
figures=$(grep -c '<figure class="chart"' "$html" || true)
skipped=$(grep -c 'class="chart-skipped"' "$html" || true)
if ((figures < 8 || skipped > 0)); then
  echo "FAIL: $figures chart(s) drawn, $skipped skipped (want 8 or more drawn, none skipped)"
  cat "$dir/report.log"
  exit 1
fi

browser() {  # browser PROFILE ARGS... : one headless Chromium run in a fresh profile
  local profile=$dir/$1
  shift
  timeout 120 "$chromium" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --user-data-dir="$profile" "$@"
}

# check PAGE: loads PAGE, prints the check's verdict ("ok", "failed", or "none" when the script
# did not run) and leaves the DOM and the console log in $dir.
check() {
  browser "profile-$RANDOM" --enable-logging=stderr --v=0 --dump-dom "file://$1" \
    >"$dir/dom.html" 2>"$dir/console.log"
  grep -o 'data-chart-check="[a-z]*"' "$dir/dom.html" | head -1 | cut -d'"' -f2 || echo none
}

verdict=$(check "$html")
if grep -q ':CONSOLE' "$dir/console.log"; then
  echo "FAIL: the page wrote to the console:"
  grep ':CONSOLE' "$dir/console.log"
  exit 1
fi
if [[ $verdict != ok ]]; then
  echo "FAIL: the page's chart check says '$verdict'"
  exit 1
fi
charts=$(grep -o 'data-charts="[0-9]*"' "$dir/dom.html" | head -1 | cut -d'"' -f2)
if [[ $charts != "$figures" ]]; then
  echo "FAIL: the page checked $charts charts, the report has $figures"
  exit 1
fi
echo "report.html: loads without console errors; all $charts charts have their data points"

# The check must be able to fail: the same page with every data mark removed.
sed -e 's/<use [^>]*>//g' -e 's/<polygon [^>]*>//g' "$html" >"$dir/report/broken.html"
verdict=$(check "$dir/report/broken.html")
if [[ $verdict != failed ]] || ! grep -q 'charts without data' "$dir/console.log"; then
  echo "FAIL: a page whose charts have no data was not caught (check says '$verdict')"
  exit 1
fi
echo "a copy without data points is caught: check says '$verdict' and logs a console error"

mkdir -p "$artifacts"
rm -f "$artifacts/report.png"
browser profile-shot --screenshot="$artifacts/report.png" --window-size=1280,4000 \
  "file://$html" >/dev/null 2>&1
if [[ ! -s $artifacts/report.png ]]; then
  echo "FAIL: no screenshot written"
  exit 1
fi
echo "screenshot: $artifacts/report.png"
