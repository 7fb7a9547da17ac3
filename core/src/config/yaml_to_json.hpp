// yaml_to_json.hpp: turns a YAML subtree into JSON text.
//
// Plugins receive their settings (plugins.settings.<id> in sandbox.yaml) as a
// JSON document, so the loader converts each plugin's YAML mapping once, here.
//
//   auto json = isb::config_internal::yaml_to_json(node, "plugins.settings.x", "sandbox.yaml");
//   if (!json) return json.error();
#pragma once

#include <yaml-cpp/yaml.h>

#include <isb/core/result.hpp>
#include <string>
#include <string_view>

namespace isb::config_internal {

//! Converts node to compact JSON. Plain (unquoted) scalars follow the YAML 1.2
//! core schema: null, true/false, integers and floats become JSON null, booleans
//! and numbers; every other scalar, and every quoted one, becomes a JSON string.
//! Fails (kInvalidConfig, naming file, line and key path) on what JSON cannot
//! express: a mapping key that is not a scalar, or a key given twice.
Result<std::string> yaml_to_json(const YAML::Node& node, const std::string& key_path,
                                 const std::string& file_name);

//! Appends text to out as a quoted JSON string, escaping as RFC 8259 requires.
void append_json_string(std::string& out, std::string_view text);

}  // namespace isb::config_internal
