// serve_settings.hpp: what `intelligent-sandbox serve` is to do, resolved from
// its command line, the MCP settings file (--mcp-config) and the config: which
// transport plugin serves, on which host and port, which tools it offers, and
// what --dev and a stdio front door mean for API keys.
//
//   isb::ServeRequest request{.mcp_config_path = "mcp.json", .transport = "http"};
//   auto settings = isb::resolve_serve_settings(request, config, geteuid());
//   if (!settings) { std::cerr << settings.error().message; return 2; }
//   for (const auto& note : settings->notes) std::cerr << note << "\n";
//   server.serve(settings->transport_id);
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <isb/core/config.hpp>
#include <isb/core/operation_registry.hpp>
#include <isb/core/result.hpp>
#include <optional>
#include <string>
#include <vector>

namespace isb {

//! What serve was asked on its command line.
struct ServeRequest {
  std::string mcp_config_path;           //!< --mcp-config; empty: none
  std::optional<std::string> transport;  //!< --transport: stdio, http or a plugin id
  std::optional<std::string> host;       //!< --host
  std::optional<int64_t> port;           //!< --port
  bool dev = false;                      //!< --dev
};

//! What the server is to do.
struct ServeSettings {
  std::string transport_id;  //!< the transport plugin that serves
  //! The tools to offer (the MCP settings file's "tools"); nullopt: all.
  std::optional<std::vector<ToolExposure>> exposed_tools;
  std::string exposed_tools_source;  //!< the MCP settings file, for messages
  //! Lines for the operator, in the order they apply (without the program name).
  std::vector<std::string> notes;
};

//! The transport plugin a --transport name means: "stdio" is mcp-stdio,
//! "http" is mcp-http, anything else names a transport plugin by its id.
std::string transport_plugin_id(const std::string& name);

//! Resolves the request against config, and changes config for it: the MCP
//! settings file (read as uid may trust it), host and port into
//! plugins.settings.mcp-http (the command line and --mcp-config win), debug
//! logging and no API keys on a loopback or stdio server with --dev, and no
//! API keys on stdio (its one client is the process that started it).
//! An error is the whole message for the operator ("invalid MCP
//! configuration: ...", "--port must be ...").
Result<ServeSettings> resolve_serve_settings(const ServeRequest& request, Config& config, uid_t uid);

}  // namespace isb
