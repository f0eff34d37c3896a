#!/usr/bin/env bash
# Builds and runs the libFuzzer harnesses of tests/fuzz/ (one per reader: safetensors, layer
# config, sweep config, verify config, results/journal).
#   scripts/fuzz.sh available          exit 0 when clang++ and libFuzzer's runtime are present
#   scripts/fuzz.sh build              configure and build build-fuzz/ (clang, ASan + UBSan)
#   scripts/fuzz.sh run SECONDS [NAME...]
#                                      fuzz each harness (default: all) for SECONDS, from a corpus
#                                      seeded at run time from configs/, tests/fixtures/ and
#                                      tests/fuzz/seeds/ in a temporary directory; exit 1 on the
#                                      first crash, sanitizer report or escaping exception
#                                      (the input that did it is kept under build-fuzz/crashes/)
# Environment: FUZZ_BUILD_DIR (default build-fuzz), FUZZ_CORPUS_DIR (keep the corpora there
# instead of a temporary directory), FUZZ_JOBS (build jobs, default nproc).
set -euo pipefail
cd "$(dirname "$0")/.."
build=$(realpath -m "${FUZZ_BUILD_DIR:-build-fuzz}")
harnesses=(safetensors layer_config sweep_config verify_config results)

available() {
  command -v clang++ >/dev/null || return 1
  local probe
  probe=$(mktemp -d)
  echo 'extern "C" int LLVMFuzzerTestOneInput(const unsigned char*, unsigned long) { return 0; }' \
    >"$probe/probe.cpp"
  local ok=0
  clang++ -fsanitize=fuzzer,address,undefined "$probe/probe.cpp" -o "$probe/probe" 2>/dev/null ||
    ok=1
  rm -rf "$probe"
  return $ok
}

build() {
  local launcher=()
  command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
  cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++ \
    -DATTN_FUZZ=ON -DATTN_TESTS=OFF -DATTN_CUDA=OFF "${launcher[@]}" >/dev/null
  cmake --build "$build" -j "${FUZZ_JOBS:-$(nproc)}" --target fuzz_harnesses
}

# Copies the seeds of one harness into directory $2.
seed() {
  local name=$1 dir=$2
  mkdir -p "$dir"
  case $name in
    safetensors) cp tests/fixtures/*.safetensors "$dir/" ;;
    layer_config) cp configs/models/*.json configs/tiny/*.json tests/fixtures/*_layer.json "$dir/" ;;
    sweep_config) cp configs/sweeps/*.json "$dir/" ;;
    verify_config) cp configs/verify/*.json "$dir/" ;;
    results) ;;
  esac
  if [[ -d tests/fuzz/seeds/$name ]]; then cp tests/fuzz/seeds/"$name"/* "$dir/"; fi
}

run() {
  local seconds=$1
  shift
  local names=("$@")
  ((${#names[@]})) || names=("${harnesses[@]}")
  scratch=$(mktemp -d)
  trap 'rm -rf "$scratch"' EXIT
  local corpora
  corpora=$(realpath -m "${FUZZ_CORPUS_DIR:-$scratch/corpus}")
  mkdir -p "$build/crashes"
  for name in "${names[@]}"; do
    local binary=$build/fuzz/fuzz_$name corpus=$corpora/$name log=$build/fuzz_$name.log
    [[ -x $binary ]] || { echo "fuzz: $binary is not built (scripts/fuzz.sh build)" >&2; exit 2; }
    [[ -d $corpus ]] || seed "$name" "$corpus"
    local status=0
    # Readers may open files a fuzzed config names; run them in the scratch directory, with no
    # terminal on stdin.
    (cd "$scratch" && TMPDIR=$scratch "$binary" -max_total_time="$seconds" -timeout=60 \
      -rss_limit_mb=2560 -print_final_stats=1 -artifact_prefix="$build/crashes/${name}-" \
      "$corpus") </dev/null >"$log" 2>&1 || status=$?
    local final
    final=$(grep -E '^#[0-9]+' "$log" | tail -1 || true)
    echo "fuzz_$name: ${final:-no progress line} | corpus $(find "$corpus" -type f | wc -l) files"
    if ((status != 0)); then
      echo "fuzz_$name: FAILED (exit $status); last lines of $log:" >&2
      tail -n 40 "$log" >&2
      exit 1
    fi
  done
}

case ${1:-} in
  available) available ;;
  build) build ;;
  run)
    [[ ${2:-} =~ ^[0-9]+$ ]] || { echo "usage: scripts/fuzz.sh run SECONDS [NAME...]" >&2; exit 2; }
    seconds=$2
    shift 2
    run "$seconds" "$@"
    ;;
  *)
    echo "usage: scripts/fuzz.sh available | build | run SECONDS [${harnesses[*]}]" >&2
    exit 2
    ;;
esac
