// json_rpc.hpp: JSON-RPC 2.0 message building for MCP transports.
#pragma once

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <string>

namespace isb::mcp {

// JSON-RPC error codes used by MCP.
inline constexpr int kParseError = -32700;
inline constexpr int kInvalidRequest = -32600;
inline constexpr int kMethodNotFound = -32601;
inline constexpr int kInvalidParams = -32602;
inline constexpr int kInternalError = -32603;

boost::json::object make_result(const boost::json::value& id, boost::json::value result);
boost::json::object make_error(const boost::json::value& id, int code, const std::string& message);
boost::json::object make_notification(const std::string& method, boost::json::object params);

//! A request id as text, for maps and logs (string ids keep their quotes, so
//! "1" and 1 stay distinct).
std::string id_key(const boost::json::value& id);

}  // namespace isb::mcp
