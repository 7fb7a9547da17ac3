#!/usr/bin/env bash
# run.sh: copies /usr/include and the Python standard library to a scratch
# directory (so the trees are the same on every run and nothing of the system
# is touched) and runs isb-bench-analysis on both copies.
#   bench/analysis/run.sh [BUILD_DIR]   (default: build)
set -euo pipefail
build=${1:-build}
bin="$build/bin/isb-bench-analysis"
[[ -x $bin ]] || { echo "run.sh: $bin not found; build the target isb-bench-analysis first" >&2; exit 2; }
command -v cloc >/dev/null || { echo "run.sh: cloc is not installed (apt-get install cloc)" >&2; exit 2; }
py=$(python3 -c 'import sysconfig; print(sysconfig.get_paths()["stdlib"])')
scratch=$(mktemp -d /tmp/isb-bench-analysis.XXXXXX)
trap 'rm -rf "$scratch"' EXIT
cp -a /usr/include "$scratch/usr-include"
cp -a "$py" "$scratch/python-stdlib"
"$bin" "$scratch/usr-include" "$scratch/python-stdlib"
