#!/usr/bin/env bash
# Runs the README's "Checking your own implementation" block exactly as written (the fenced sh
# block after the marker comment), in a temporary directory where build/ is attnlab's build
# directory and examples/ the source tree's, so the three commands shown stay true. Exit 77
# (ctest: skipped) with the reason when the python3 that PATH finds cannot import torch.
# usage: readme_own_implementation_test.sh ATTNLAB SOURCE_DIR
set -euo pipefail
attnlab=$1 source_dir=$2
block=$(awk '/<!-- readme-own-implementation/ {found=1; next}
             found && /^```sh/ {inside=1; next}
             inside && /^```/ {exit}
             inside {print}' "$source_dir/README.md")
if [[ $(grep -c . <<<"$block") -ne 3 ]]; then
  echo "FAILED: README.md has no three-command block after the readme-own-implementation marker"
  exit 1
fi
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
# The block says python3; on Debian that is /usr/bin/python3, which python3-torch serves.
mkdir "$dir/bin"
ln -s /usr/bin/python3 "$dir/bin/python3"
export PATH="$dir/bin:$PATH"
if ! python3 -c "import torch" 2>/dev/null; then
  echo "skipped: python3 cannot import torch (Debian package python3-torch; scripts/setup.sh installs it)"
  exit 77
fi
ln -s "$(dirname "$attnlab")" "$dir/build"
ln -s "$source_dir/examples" "$dir/examples"
cd "$dir"
echo "$block"
bash -euo pipefail -c "$block"
