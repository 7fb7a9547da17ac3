#!/usr/bin/env bash
# Runs every test (GoogleTest units, plugin tests, end-to-end tests with real
# MCP clients) through CTest. Usage: scripts/run-tests.sh [build-dir]
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${1:-$here/build}"
# Two cores: two tests at a time; end-to-end tests each start their own server.
exec ctest --test-dir "$build" --output-on-failure --timeout 600 -j 2
