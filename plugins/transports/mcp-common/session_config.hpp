// session_config.hpp: the settings every MCP transport shares (tools page
// size, worker pool bounds, what serverInfo says), read once from the transport's config object so
// both transports accept the same keys with the same checks.
//
//   isb::mcp::SessionOptions o = isb::mcp::session_options_from(config);  // throws isb::sdk::Error
//
// The keys also belong in each transport's config_schema: kSessionConfigProperties
// is that part of the schema.
#pragma once

#include <boost/json/object.hpp>

#include "mcp_session.hpp"

namespace isb::mcp {

//! JSON Schema "properties" members (without braces) for the shared keys.
inline constexpr const char* kSessionConfigProperties = R"(
  "tools_page_size":{"type":"integer","minimum":1,"description":"Tools per tools/list page; later pages via nextCursor. Default 100."},
  "call_workers":{"type":"integer","minimum":1,"maximum":1024,"description":"Threads running read-only tools and resource reads. Default: the number of cores (at least 2)."},
  "long_call_workers":{"type":"integer","minimum":1,"maximum":1024,"description":"Threads running the other tools (commands, plans, workspace creation), so they never hold up quick calls. Default 16."},
  "max_queued_calls":{"type":"integer","minimum":1,"description":"Requests per lane waiting for a thread; more are refused as busy. Default 4096."},
  "server_name":{"type":"string","minLength":1,"description":"serverInfo.name in initialize (mcp_config.json server.name). Default intelligent-sandbox."},
  "server_description":{"type":"string","description":"serverInfo.description in initialize (mcp_config.json server.description). Default: none."})";

//! Options with their pool built from config; a wrong value throws
//! isb::sdk::Error(ISB_INVALID_CONFIG) naming the key.
SessionOptions session_options_from(const boost::json::object& config);

}  // namespace isb::mcp
