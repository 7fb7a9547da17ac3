#include "config.hpp"

#include "json_util.hpp"

namespace isb::process {

const char* const kConfigSchema = R"({
  "$schema": "http://json-schema.org/draft-07/schema#",
  "title": "isolation-process config",
  "type": "object",
  "additionalProperties": false,
  "properties": {
    "kill_grace_ms": {
      "type": "integer",
      "minimum": 0,
      "maximum": 600000,
      "default": 2000,
      "description": "Milliseconds between SIGTERM and SIGKILL to a command's process group on timeout or cancel."
    }
  }
})";

Config parse_config(const std::string& config_json) {
  std::string text = config_json.empty() ? "{}" : config_json;
  boost::json::object obj = parse_object(text, ISB_INVALID_CONFIG, "the process backend config");
  Config cfg;
  for (const auto& [key, value] : obj) {
    if (key == "kill_grace_ms") {
      auto n = as_int(value);
      if (!n || *n < 0 || *n > 600000) {
        throw sdk::Error(ISB_INVALID_CONFIG,
                         "config key 'kill_grace_ms' must be an integer between 0 and 600000 (milliseconds)");
      }
      cfg.kill_grace_ms = *n;
    } else {
      throw sdk::Error(ISB_INVALID_CONFIG,
                       "unknown config key '" + std::string(key) + "' (the process backend knows: kill_grace_ms)");
    }
  }
  return cfg;
}

}  // namespace isb::process
