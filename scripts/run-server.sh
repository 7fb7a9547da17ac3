#!/usr/bin/env bash
# Starts the server on MCP stdio with the built-in defaults, after printing how
# to connect an MCP client to it and what this host enforces (the doctor's
# summary). Everything printed goes to stderr: a client that reads stdout sees
# only the server's protocol messages. Usage: scripts/run-server.sh [build-dir]
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="$(cd "${1:-$here/build}" && pwd)"
binary="$build/bin/intelligent-sandbox"

{
  echo
  echo "Intelligent Sandbox $("$binary" --version | cut -d' ' -f2-)"
  "$binary" plugins | sed 's/^/  /'
  echo
  "$here/scripts/client-setup.sh" "$build"
  echo
  # The doctor exits 1 when the security level's needs are unmet; the
  # summary says what and how to fix it, and the server still starts.
  "$binary" doctor --summary || true
  # Under sudo, a desktop client will start the server as the user who ran
  # sudo, not as root: say what that user gets.
  if [[ $(id -u) -eq 0 && -n "${SUDO_USER:-}" && "$SUDO_USER" != root ]]; then
    echo
    echo "A desktop client starts the server as $SUDO_USER, not root; for $SUDO_USER:"
    # runuser (util-linux) sets HOME, USER and LOGNAME as a login would.
    as_user=(runuser -u "$SUDO_USER" --)
    if ! "${as_user[@]}" test -x "$binary"; then
      echo "  $SUDO_USER cannot run $binary: make the checkout readable by $SUDO_USER, or build it as $SUDO_USER"
    else
      "${as_user[@]}" "$binary" doctor --summary || true
    fi
  fi
  cat <<MSG

Command-line check: npx @modelcontextprotocol/inspector-cli --cli $binary serve --method tools/list
Full host report: $binary doctor (--json for a document)

The server is now serving MCP (JSON-RPC, one message per line) on this
terminal's stdin/stdout. Try:
{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"terminal","version":"1"}}}
Press Ctrl-D (end of input) or Ctrl-C to stop.

MSG
} >&2
exec "$binary" serve
