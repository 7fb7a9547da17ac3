#!/usr/bin/env bash
# Runs every test (GoogleTest units, plugin tests, end-to-end tests with real
# MCP clients) through CTest. Usage: scripts/run-tests.sh [build-dir]
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${1:-$here/build}"
"$here/scripts/start-dockerd.sh" && "$here/scripts/build-test-image.sh"  # the docker backend tests need a real engine
# Two at a time: process-backend instances (servers, test processes) have their
# own cgroups and host-wide sandbox uids (plugins/isolation-process/README.md);
# tests that cannot share the host are marked RUN_SERIAL where they are registered.
exec ctest --test-dir "$build" --output-on-failure --timeout 600 -j 2
