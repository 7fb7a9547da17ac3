// analyzer_options.hpp: what every analyzer plugin of this repository shares at
// its boundary: the config schema and parser, the analyze options (depth,
// include_dependencies, max_file_bytes), and the common parts of a facts
// document (docs/schemas/analyzer-facts.schema.json).
//
//   AnalyzerConfig cfg = parse_analyzer_config(config_json, "languages");  // throws sdk::Error
//   AnalyzeOptions o = parse_analyze_options(options_json, cfg);
#pragma once

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "common/walker.hpp"

namespace isb::analyzer {

//! The config schema every analyzer plugin here declares.
extern const char* const kAnalyzerConfigSchema;

struct AnalyzerConfig {
  std::uint64_t max_file_bytes = 4ull * 1024 * 1024;
  unsigned threads = 0;  // 0: one per core
};

//! Parses a plugin config; bad keys or values throw sdk::Error(ISB_INVALID_CONFIG)
//! naming the key and the accepted values.
AnalyzerConfig parse_analyzer_config(const std::string& config_json, const std::string& plugin_id);

struct AnalyzeOptions {
  bool quick = false;                // depth "quick": markers and commands only
  bool include_dependencies = true;  // dependencies[] wanted
  std::uint64_t max_file_bytes = 0;
};

//! Parses analyze options; bad ones throw sdk::Error(ISB_INVALID_ARGUMENT).
AnalyzeOptions parse_analyze_options(const std::string& options_json, const AnalyzerConfig& config);

//! {"schema_version":1,"analyzer":{id,version},"duration_ms":<since started>}
boost::json::object facts_header(const char* id, const char* version,
                                 std::chrono::steady_clock::time_point started);

//! The "files" section: total, analysed, skipped by reason, samples.
boost::json::object files_json(const WalkResult& walk);

boost::json::array strings_json(const std::vector<std::string>& v);

}  // namespace isb::analyzer
