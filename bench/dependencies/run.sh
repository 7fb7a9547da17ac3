#!/usr/bin/env bash
# run.sh: copies /usr/include, the Python standard library and the repository's
# dependency fixtures to a scratch directory and runs isb-bench-dependencies on
# them (the same trees as bench/analysis/run.sh, plus one with many manifests).
#   bench/dependencies/run.sh [BUILD_DIR]   (default: build)
set -euo pipefail
build=${1:-build}
bin="$build/bin/isb-bench-dependencies"
[[ -x $bin ]] || { echo "run.sh: $bin not found; build the target isb-bench-dependencies first" >&2; exit 2; }
here=$(cd "$(dirname "$0")/../.." && pwd)
py=$(python3 -c 'import sysconfig; print(sysconfig.get_paths()["stdlib"])')
scratch=$(mktemp -d /tmp/isb-bench-deps.XXXXXX)
trap 'rm -rf "$scratch"' EXIT
cp -a /usr/include "$scratch/usr-include"
cp -a "$py" "$scratch/python-stdlib"
# 40 copies of the fixtures: about 500 manifests and lockfiles among 900 files.
mkdir -p "$scratch/fixtures-x40"
for i in $(seq 1 40); do cp -a "$here/tests/fixtures/analysis" "$scratch/fixtures-x40/copy$i"; done
"$bin" "$scratch/usr-include" "$scratch/python-stdlib" "$scratch/fixtures-x40"
