#!/usr/bin/env bash
# Installs attnlab's Debian packages when they are missing (says which), then configures and
# builds into build/ (Release, Ninja). Re-running is cheap: nothing is installed twice and the
# build is incremental. Environment: BUILD_DIR (default build), CMAKE_ARGS (extra -D options).
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  cmake ninja-build g++ pkg-config git
  libeigen3-dev nlohmann-json3-dev libcli11-dev   # projections, JSON, command line
  catch2 librapidcheck-dev                         # tests and property tests
  libbenchmark-dev libopenblas-dev                 # sweeps (Google Benchmark), GEMM peak
  libbenchmark-tools python3-scipy                 # compare.py (tests and --baseline)
  gnuplot-nox                                      # `attnlab report` draws its SVG charts
  chromium                                         # the report's headless-browser test
  python3-torch                                    # examples/pytorch's test (golden + compare)
  clang-format                                     # CI's format check (scripts/check_format.sh)
  clang libclang-rt-14-dev libomp-dev              # fuzz harnesses (scripts/fuzz.sh): clang, its
                                                   # libFuzzer + ASan/UBSan runtimes, its OpenMP
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing missing Debian packages: ${missing[*]}"
  sudo=""
  if [[ $(id -u) -ne 0 ]]; then
    command -v sudo >/dev/null || { echo "setup: need root (or sudo) to apt-get install ${missing[*]}" >&2; exit 1; }
    sudo="sudo"
  fi
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  echo "setup: all Debian packages present"
fi

build_dir=${BUILD_DIR:-build}
# shellcheck disable=SC2086
cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release ${CMAKE_ARGS:-} >/dev/null
cmake --build "$build_dir" -j "$(nproc)"
echo "setup: built $build_dir/attnlab"
