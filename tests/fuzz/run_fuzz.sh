#!/usr/bin/env bash
# run_fuzz.sh BUILD_DIR SECONDS: builds the JSON-RPC fuzz harness with Debian's
# clang (libFuzzer + AddressSanitizer + UBSan) into BUILD_DIR/fuzz, replays
# every kept regression input, then fuzzes for SECONDS from the seed corpus.
# A crash is saved under BUILD_DIR/fuzz/artifacts; copy it into
# tests/fuzz/regressions/ once fixed so it is replayed forever.
set -euo pipefail
build_dir=$1
seconds=${2:-20}
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
out="$build_dir/fuzz"
mkdir -p "$out/artifacts" "$out/corpus"
clang=$(command -v clang++ || command -v clang++-14 || true)
if [[ -z $clang ]]; then
  echo "run_fuzz: clang++ not found; install the Debian package clang" >&2
  exit 1
fi
bin="$out/json_rpc_fuzz"
sources=("$here/json_rpc_fuzz.cpp" "$repo/plugins/transports/mcp-common/mcp_session.cpp"
         "$repo/plugins/transports/mcp-common/json_rpc.cpp" "$repo/plugins/transports/mcp-common/call_pool.cpp"
         "$repo/plugins/transports/mcp-common/tool_catalog.cpp" "$repo/plugins/transports/mcp-common/client_roots.cpp")
if [[ ! -x $bin ]] || [[ -n $(find "${sources[@]}" "$repo/plugins/transports/mcp-common" -newer "$bin" -print -quit) ]]; then
  "$clang" -std=c++20 -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
    -I "$repo/plugins/transports/mcp-common" -I "$repo/plugin-api/include" -I "$repo/sdk/include" \
    "${sources[@]}" -o "$bin" -lboost_json -lpthread
fi
# Regression inputs first: each must run clean.
shopt -s nullglob
regressions=("$here"/regressions/*)
if ((${#regressions[@]})); then
  "$bin" -runs=1 "${regressions[@]}" >"$out/regressions.log" 2>&1 || { cat "$out/regressions.log" >&2; exit 1; }
fi
cp -n "$here"/corpus/* "$out/corpus/" 2>/dev/null || true
"$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=1024 -artifact_prefix="$out/artifacts/" \
  -dict="$here/json_rpc.dict" "$out/corpus" 2>"$out/fuzz.log" || { tail -50 "$out/fuzz.log" >&2; exit 1; }
tail -1 "$out/fuzz.log"
