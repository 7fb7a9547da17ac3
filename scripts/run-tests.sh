#!/usr/bin/env bash
# Runs every test (GoogleTest units, plugin tests, end-to-end tests with real
# MCP clients) through CTest. Usage: scripts/run-tests.sh [build-dir]
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${1:-$here/build}"
"$here/scripts/start-dockerd.sh" && "$here/scripts/build-test-image.sh"  # the docker backend tests need a real engine
# One test at a time: several tests start their own server or process-backend
# instance, and two instances on one host still share cgroup names and sandbox
# uid slots (a known limit of the jail, see plugins/isolation-process/README.md).
exec ctest --test-dir "$build" --output-on-failure --timeout 600 -j 1
