// plugin.cpp: the "codebase" analyzer plugin: configuration, options, and the
// facts document assembled from the walker, language stats and ecosystems.
#include <isb/sdk/plugin.hpp>

#include <boost/json.hpp>

#include <chrono>
#include <filesystem>
#include <limits>
#include <map>
#include <string>
#include <system_error>

#include "ecosystems.hpp"
#include "language_stats.hpp"
#include "walker.hpp"

namespace isb::analyzer::codebase {

namespace json = boost::json;
namespace fs = std::filesystem;

namespace {

constexpr const char* kId = "codebase";
constexpr const char* kVersion = "0.1.0";
constexpr std::uint64_t kDefaultMaxFileBytes = 4ull * 1024 * 1024;

constexpr const char* kConfigSchema = R"({
  "$schema": "http://json-schema.org/draft-07/schema#",
  "type": "object",
  "properties": {
    "max_file_bytes": {"type": "integer", "minimum": 1, "default": 4194304,
                       "description": "Files larger than this are skipped as too_large."},
    "follow_symlinks": {"const": false, "default": false,
                        "description": "Symlinks are never followed; only false is accepted."}
  },
  "additionalProperties": false
})";

json::object parse_object(const std::string& text, isb_status status, const char* what) {
  boost::system::error_code ec;
  json::value v = json::parse(text.empty() ? std::string("{}") : text, ec);
  if (ec) throw sdk::Error(status, std::string(what) + " is not valid JSON: " + ec.message());
  if (!v.is_object()) throw sdk::Error(status, std::string(what) + " must be a JSON object");
  return v.as_object();
}

std::uint64_t max_bytes_from(const json::value& v, isb_status status, const char* where) {
  if (v.is_int64() && v.as_int64() > 0) return static_cast<std::uint64_t>(v.as_int64());
  if (v.is_uint64() && v.as_uint64() > 0) return v.as_uint64();
  throw sdk::Error(status, std::string(where) + ".max_file_bytes must be a positive integer");
}

}  // namespace

class CodebaseAnalyzer : public sdk::Analyzer {
 public:
  static sdk::PluginInfo info() {
    return {kId, "Codebase analyzer", kVersion,
            "Walks a source tree: languages with code/comment/blank lines, projects per ecosystem and their "
            "install/build/test/lint commands with evidence.",
            kConfigSchema, ISB_CAP_THREAD_SAFE};
  }

  CodebaseAnalyzer(sdk::Host host, const std::string& config_json) : host_(host) {
    json::object cfg = parse_object(config_json, ISB_INVALID_CONFIG, "codebase analyzer config");
    for (const auto& [key, value] : cfg) {
      if (key == "max_file_bytes") {
        max_file_bytes_ = max_bytes_from(value, ISB_INVALID_CONFIG, "config");
      } else if (key == "follow_symlinks") {
        if (!value.is_bool() || value.as_bool())
          throw sdk::Error(ISB_INVALID_CONFIG, "config.follow_symlinks: only false is supported");
      } else {
        throw sdk::Error(ISB_INVALID_CONFIG, "config: unknown key \"" + std::string(key) +
                                                 "\" (allowed: max_file_bytes, follow_symlinks)");
      }
    }
  }

  std::string analyze(const std::string& root_path, const std::string& options_json) override {
    const auto started = std::chrono::steady_clock::now();
    json::object options = parse_object(options_json, ISB_INVALID_ARGUMENT, "analyze options");
    WalkOptions wo;
    wo.max_file_bytes = max_file_bytes_;
    if (auto* v = options.if_contains("max_file_bytes")) wo.max_file_bytes = max_bytes_from(*v, ISB_INVALID_ARGUMENT, "options");

    std::error_code ec;
    const fs::path root(root_path);
    if (root_path.empty() || !fs::exists(root, ec))
      throw sdk::Error(ISB_INVALID_ARGUMENT, "root path \"" + root_path + "\" does not exist");
    if (!fs::is_directory(root, ec))
      throw sdk::Error(ISB_INVALID_ARGUMENT, "root path \"" + root_path + "\" is not a directory");

    LanguageStats languages;
    std::map<std::string, std::string> manifests;
    WalkResult walk = walk_tree(root, wo, [&](const std::string& rel, const std::string& content) {
      languages.add(rel, content);
      if (is_manifest_name(base_name(rel))) manifests.emplace(rel, content);
    });

    std::vector<std::string> warnings = walk.warnings;
    TreeView tree{walk, manifests};
    std::vector<Project> projects = detect_projects(tree, warnings);

    json::object skipped;
    for (SkipReason r : {SkipReason::vcs, SkipReason::vendored, SkipReason::binary, SkipReason::too_large,
                         SkipReason::ignored})
      skipped[skip_reason_name(r)] = walk.skipped.count(r) ? walk.skipped.at(r) : 0;
    json::array samples;
    for (const auto& s : walk.skipped_samples) samples.push_back(json::string(s));

    json::array langs;
    for (const auto& t : languages.sorted())
      langs.push_back(json::object{{"name", t.name},
                                   {"files", t.files},
                                   {"code", t.code},
                                   {"comment", t.comment},
                                   {"blank", t.blank},
                                   {"bytes", t.bytes}});
    json::array projs;
    for (const auto& p : projects) projs.push_back(to_json(p));
    json::array warns;
    for (const auto& w : warnings) warns.push_back(json::string(w));

    const auto elapsed =
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started).count();
    json::object doc{{"schema_version", 1},
                     {"analyzer", json::object{{"id", kId}, {"version", kVersion}}},
                     {"duration_ms", static_cast<std::int64_t>(elapsed)},
                     {"files", json::object{{"total", walk.total},
                                            {"analysed", walk.analysed},
                                            {"skipped", std::move(skipped)},
                                            {"skipped_samples", std::move(samples)}}},
                     {"languages", std::move(langs)},
                     {"projects", std::move(projs)},
                     {"warnings", std::move(warns)}};
    host_.debug("codebase: analysed " + std::to_string(walk.analysed) + " files under " + root_path);
    return json::serialize(doc);
  }

 private:
  sdk::Host host_;
  std::uint64_t max_file_bytes_ = kDefaultMaxFileBytes;
};

}  // namespace isb::analyzer::codebase

ISB_PLUGIN(isb::analyzer::codebase::CodebaseAnalyzer)
