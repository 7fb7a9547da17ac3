// json_rpc.cpp: JSON-RPC 2.0 message building.
#include "json_rpc.hpp"

#include <boost/json/serialize.hpp>

namespace isb::mcp {

boost::json::object make_result(const boost::json::value& id, boost::json::value result) {
  return {{"jsonrpc", "2.0"}, {"id", id}, {"result", std::move(result)}};
}

boost::json::object make_error(const boost::json::value& id, int code, const std::string& message) {
  return {{"jsonrpc", "2.0"}, {"id", id}, {"error", {{"code", code}, {"message", message}}}};
}

boost::json::object make_notification(const std::string& method, boost::json::object params) {
  return {{"jsonrpc", "2.0"}, {"method", method}, {"params", std::move(params)}};
}

std::string id_key(const boost::json::value& id) { return boost::json::serialize(id); }

}  // namespace isb::mcp
