#!/usr/bin/env bash
# Prints paste-ready MCP client setups for the server in a build tree: Claude
# Code, the mcpServers JSON (Claude Desktop, Cursor), VS Code's .vscode/mcp.json
# and the HTTP form, each with the binary's absolute path and nothing left to
# edit. tests/e2e/first_run_client.test.mjs starts the stdio command printed
# here. Usage: scripts/client-setup.sh [build-dir] [--port N]
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build_arg="$here/build"
port=8080
while (($#)); do
  case "$1" in
    --port) port="$2"; shift 2 ;;
    *) build_arg="$1"; shift ;;
  esac
done
build="$(cd "$build_arg" && pwd)"
binary="$build/bin/intelligent-sandbox"
if [[ ! -x "$binary" ]]; then
  echo "client-setup: $binary is not built yet; run make run (or make build) first" >&2
  exit 1
fi
# A fresh key for the HTTP form: the start command and the client carry the
# same one, so neither needs editing.
key="$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')"

cat <<SETUP
Connect an MCP client: it starts the server itself, as you, in the project it
has open (and offers that folder as the only place workspaces may come from).

== Claude Code ==
claude mcp add --scope user intelligent-sandbox -- $binary serve

== Claude Desktop, Cursor (mcpServers JSON: claude_desktop_config.json, ~/.cursor/mcp.json) ==
{
  "mcpServers": {
    "intelligent-sandbox": {
      "command": "$binary",
      "args": ["serve"]
    }
  }
}

== VS Code (.vscode/mcp.json in the project, or "MCP: Open User Configuration") ==
{
  "servers": {
    "intelligent-sandbox": {
      "type": "stdio",
      "command": "$binary",
      "args": ["serve"]
    }
  }
}
SETUP

# Claude Desktop runs on Windows; a server inside WSL is started through wsl.exe.
if [[ -n "${WSL_DISTRO_NAME:-}" ]]; then
  cat <<SETUP

== Claude Desktop on Windows, server in WSL ($WSL_DISTRO_NAME) ==
{
  "mcpServers": {
    "intelligent-sandbox": {
      "command": "wsl.exe",
      "args": ["-d", "$WSL_DISTRO_NAME", "--", "$binary", "serve"]
    }
  }
}
SETUP
fi

cat <<SETUP

== Over HTTP: a server you start (as a service, or as root), clients connect ==
Start it:  SANDBOX_API_KEY=$key $binary serve --transport http --port $port
Claude Code:
claude mcp add --transport http intelligent-sandbox http://127.0.0.1:$port/mcp --header "X-API-Key: $key"
mcpServers JSON (Cursor; VS Code: the same under "servers" with "type": "http"):
{
  "mcpServers": {
    "intelligent-sandbox": {
      "url": "http://127.0.0.1:$port/mcp",
      "headers": { "X-API-Key": "$key" }
    }
  }
}
SETUP
