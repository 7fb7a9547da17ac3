// analyzer_options.cpp: config/options parsing and the shared facts sections.
#include "common/analyzer_options.hpp"

#include <boost/json.hpp>
#include <isb/sdk/plugin.hpp>

namespace isb::analyzer {

namespace json = boost::json;

const char* const kAnalyzerConfigSchema = R"({
  "$schema": "http://json-schema.org/draft-07/schema#",
  "type": "object",
  "properties": {
    "max_file_bytes": {"type": "integer", "minimum": 1, "default": 4194304,
                       "description": "Files larger than this are skipped as too_large."},
    "threads": {"type": "integer", "minimum": 0, "maximum": 256, "default": 0,
                "description": "Reader threads; 0 uses one per core."},
    "follow_symlinks": {"const": false, "default": false,
                        "description": "Symlinks are never followed; only false is accepted."}
  },
  "additionalProperties": false
})";

namespace {

json::object parse_object(const std::string& text, isb_status status, const std::string& what) {
  boost::system::error_code ec;
  json::value v = json::parse(text.empty() ? std::string("{}") : text, ec);
  if (ec) throw sdk::Error(status, what + " is not valid JSON: " + ec.message());
  if (!v.is_object()) throw sdk::Error(status, what + " must be a JSON object");
  return v.as_object();
}

std::uint64_t positive(const json::value& v, isb_status status, const std::string& where) {
  if (v.is_int64() && v.as_int64() > 0) return static_cast<std::uint64_t>(v.as_int64());
  if (v.is_uint64() && v.as_uint64() > 0) return v.as_uint64();
  throw sdk::Error(status, where + " must be a positive integer");
}

}  // namespace

AnalyzerConfig parse_analyzer_config(const std::string& config_json, const std::string& plugin_id) {
  AnalyzerConfig cfg;
  const std::string what = plugin_id + " analyzer config";
  for (const auto& [key, value] : parse_object(config_json, ISB_INVALID_CONFIG, what)) {
    if (key == "max_file_bytes") {
      cfg.max_file_bytes = positive(value, ISB_INVALID_CONFIG, "config.max_file_bytes");
    } else if (key == "threads") {
      if (!value.is_int64() || value.as_int64() < 0 || value.as_int64() > 256)
        throw sdk::Error(ISB_INVALID_CONFIG,
                         "config.threads must be an integer from 0 (one per core) to 256");
      cfg.threads = static_cast<unsigned>(value.as_int64());
    } else if (key == "follow_symlinks") {
      if (!value.is_bool() || value.as_bool())
        throw sdk::Error(ISB_INVALID_CONFIG, "config.follow_symlinks: only false is supported");
    } else {
      throw sdk::Error(ISB_INVALID_CONFIG, "config: unknown key \"" + std::string(key) +
                                               "\" (allowed: max_file_bytes, threads, follow_symlinks)");
    }
  }
  return cfg;
}

AnalyzeOptions parse_analyze_options(const std::string& options_json, const AnalyzerConfig& config) {
  AnalyzeOptions o;
  o.max_file_bytes = config.max_file_bytes;
  for (const auto& [key, value] : parse_object(options_json, ISB_INVALID_ARGUMENT, "analyze options")) {
    if (key == "max_file_bytes") {
      o.max_file_bytes = positive(value, ISB_INVALID_ARGUMENT, "options.max_file_bytes");
    } else if (key == "depth") {
      if (value == "quick")
        o.quick = true;
      else if (value == "full")
        o.quick = false;
      else
        throw sdk::Error(ISB_INVALID_ARGUMENT, "options.depth must be \"quick\" or \"full\"");
    } else if (key == "include_dependencies") {
      if (!value.is_bool())
        throw sdk::Error(ISB_INVALID_ARGUMENT, "options.include_dependencies must be a boolean");
      o.include_dependencies = value.as_bool();
    }
    // Other keys belong to other analyzers: the host sends every analyzer the same options.
  }
  return o;
}

json::object facts_header(const char* id, const char* version,
                          std::chrono::steady_clock::time_point started) {
  const auto elapsed =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started)
          .count();
  return json::object{{"schema_version", 1},
                      {"analyzer", json::object{{"id", id}, {"version", version}}},
                      {"duration_ms", static_cast<std::int64_t>(elapsed)}};
}

json::object files_json(const WalkResult& walk) {
  json::object skipped;
  for (SkipReason r : kAllSkipReasons)
    skipped[skip_reason_name(r)] = walk.skipped.count(r) ? walk.skipped.at(r) : 0;
  return json::object{{"total", walk.total},
                      {"analysed", walk.analysed},
                      {"skipped", std::move(skipped)},
                      {"skipped_samples", strings_json(walk.skipped_samples)}};
}

json::array strings_json(const std::vector<std::string>& v) {
  json::array a;
  for (const auto& s : v) a.push_back(json::string(s));
  return a;
}

}  // namespace isb::analyzer
