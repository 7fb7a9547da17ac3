#!/usr/bin/env bash
# Starts the server on MCP stdio with the built-in defaults, after printing how
# to connect an MCP client to it. Usage: scripts/run-server.sh [build-dir]
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="$(cd "${1:-$here/build}" && pwd)"
binary="$build/bin/intelligent-sandbox"

{
  echo
  echo "Intelligent Sandbox $("$binary" --version | cut -d' ' -f2-)"
  "$binary" plugins | sed 's/^/  /'
  cat <<MSG

To use it from an MCP client (Claude Desktop, Cursor, VS Code, ...), add this to
the client's MCP configuration; the client then starts the server itself:

{
  "mcpServers": {
    "intelligent-sandbox": {
      "command": "$binary",
      "args": ["serve"]
    }
  }
}

Command-line check: npx @modelcontextprotocol/inspector-cli --cli $binary serve --method tools/list

The server is now serving MCP (JSON-RPC, one message per line) on this
terminal's stdin/stdout. Try:
{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"terminal","version":"1"}}}
Press Ctrl-D (end of input) or Ctrl-C to stop.

MSG
} >&2
exec "$binary" serve
