// session_config.cpp: reads the shared MCP transport settings.
#include "session_config.hpp"

#include <string>

namespace isb::mcp {

SessionOptions session_options_from(const boost::json::object& config) {
  auto integer = [&](const char* key, int64_t min, int64_t fallback) -> int64_t {
    auto* v = config.if_contains(key);
    if (!v) return fallback;
    if (!v->is_int64() || v->as_int64() < min) {
      throw isb::sdk::Error(ISB_INVALID_CONFIG,
                            std::string(key) + " must be an integer >= " + std::to_string(min));
    }
    return v->as_int64();
  };
  SessionOptions o;
  o.tools_page_size = static_cast<size_t>(integer("tools_page_size", 1, 100));
  CallPool::Options pool;
  pool.quick_workers = static_cast<size_t>(integer("call_workers", 1, 0));
  pool.long_workers = static_cast<size_t>(integer("long_call_workers", 1, 16));
  pool.max_queued = static_cast<size_t>(integer("max_queued_calls", 1, 4096));
  o.pool = std::make_shared<CallPool>(pool);
  auto text = [&](const char* key, std::string fallback) {
    auto* v = config.if_contains(key);
    if (!v) return fallback;
    if (!v->is_string()) throw isb::sdk::Error(ISB_INVALID_CONFIG, std::string(key) + " must be a string");
    return std::string(v->as_string());
  };
  o.server_name = text("server_name", o.server_name);
  if (o.server_name.empty()) throw isb::sdk::Error(ISB_INVALID_CONFIG, "server_name must not be empty");
  o.server_description = text("server_description", "");
  o.catalog = std::make_shared<ToolCatalog>();
  return o;
}

}  // namespace isb::mcp
