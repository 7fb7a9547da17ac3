// mcp_config.hpp: the MCP settings file (serve --mcp-config FILE), in the
// seed guide's format, which it accepts as printed:
//
//   {"server": {"name", "version", "description", "protocol_version"},
//    "transport": {"type": "stdio"|"http", "host", "port", "encoding": "utf-8"},
//    "tools": [{"name", "description", "parameters": {"arg": "string", ...}}, ...],
//    "authentication": {"enabled", "type": "api_key", "header": "X-API-Key", "api_keys": [...]},
//    "rate_limiting": {"enabled", "requests_per_minute", "burst" | "burst_size"}}
//
// Every key does something or is refused with the reason: an unknown key, a
// wrong type, an encoding other than UTF-8, an authentication type other than
// api_key, a protocol_version other than the seed's label "1.0" (MCP
// negotiates its revision per session). docs/mcp.md says what each key does.
//
//   auto m = isb::load_mcp_config("mcp_config.json", geteuid());
//   if (!m) { std::cerr << m.error().message; return 2; }
//   auto notes = isb::apply_mcp_config(*m, config, "mcp-stdio");  // error, or notes to print
//   options.exposed_tools = m->tools;
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

struct McpConfig {
  std::string file;  //!< where it was read from, for messages

  std::optional<std::string> server_name;         //!< serverInfo.name
  std::optional<std::string> server_version;      //!< a label: serverInfo reports the binary's version
  std::optional<std::string> server_description;  //!< serverInfo.description
  std::optional<std::string> protocol_version;    //!< only the seed's "1.0"

  std::optional<std::string> transport;  //!< "stdio" or "http"
  std::optional<std::string> host;
  std::optional<int64_t> port;

  //! The tools to offer; nullopt: all of them.
  std::optional<std::vector<ToolExposure>> tools;

  std::optional<bool> authentication_enabled;
  std::string api_key_header;  //!< empty: the default (X-API-Key)
  std::vector<std::string> api_keys;

  std::optional<bool> rate_limiting_enabled;
  std::optional<int64_t> requests_per_minute;
  std::optional<int64_t> burst;
};

//! Parses the JSON text of file_name (named in messages).
Result<McpConfig> parse_mcp_config(const std::string& json_text, const std::string& file_name);

//! Reads path, refusing it when a user other than uid or root could change it
//! (it can carry API keys and decide the tools), and parses it.
Result<McpConfig> load_mcp_config(const std::string& path, uid_t uid);

//! Applies what belongs to the server config: API keys (added), rate limits,
//! and the settings of the MCP transports (server name and description, the
//! API key header). transport_id is the transport that will serve ("mcp-stdio",
//! "mcp-http", ...): authentication.enabled with no key anywhere is an error on
//! HTTP; on stdio, where the client is the process that started the server
//! and no key travels, it is accepted. Returns notes for the operator (what
//! a key means here when that is not what the file may suggest).
Result<std::vector<std::string>> apply_mcp_config(const McpConfig& mcp, Config& config,
                                                  const std::string& transport_id);

}  // namespace isb
