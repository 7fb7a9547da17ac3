// plugin.cpp: the "codebase" analyzer plugin: project roots per ecosystem,
// their manifests, lockfiles and package manager, and the
// install/build/test/lint commands the tree's own files back up. Only
// manifest-like files are read; language statistics are the "languages"
// analyzer's concern and CI workflows the "ci" analyzer's.
#include <boost/json.hpp>
#include <chrono>
#include <isb/sdk/plugin.hpp>
#include <map>
#include <mutex>
#include <string>

#include "codebase/ecosystems.hpp"
#include "common/analyzer_options.hpp"
#include "common/walker.hpp"

namespace isb::analyzer {

namespace json = boost::json;

namespace {

constexpr const char* kId = "codebase";
constexpr const char* kVersion = "0.2.0";

}  // namespace

class CodebaseAnalyzer : public sdk::Analyzer {
 public:
  static sdk::PluginInfo info() {
    return {kId,
            "Projects and commands",
            kVersion,
            "Finds project roots per ecosystem with their manifests, lockfiles and package manager, and the "
            "install/build/test/lint commands backed by the tree's own files, each with evidence.",
            kAnalyzerConfigSchema,
            ISB_CAP_THREAD_SAFE};
  }

  CodebaseAnalyzer(sdk::Host host, const std::string& config_json)
      : host_(host), config_(parse_analyzer_config(config_json, kId)) {}

  std::string analyze(const sdk::Tree& root, const std::string& options_json) override {
    const auto started = std::chrono::steady_clock::now();
    const AnalyzeOptions options = parse_analyze_options(options_json, config_);

    WalkOptions wo;
    wo.max_file_bytes = options.max_file_bytes;
    wo.threads = config_.threads;
    wo.want_content = [](const std::string& rel) { return is_manifest_name(base_name(rel)); };
    std::mutex mu;
    std::map<std::string, std::string> manifests;
    WalkResult walk = walk_tree(root, wo, [&](unsigned, const std::string& rel, std::string_view content) {
      std::lock_guard lock(mu);
      manifests.emplace(rel, std::string(content));
    });

    std::vector<std::string> warnings = walk.warnings;
    TreeView tree{walk, manifests};
    std::vector<Project> projects = detect_projects(tree, warnings);

    json::array projs;
    for (const auto& p : projects) projs.push_back(to_json(p));
    json::object doc = facts_header(kId, kVersion, started);
    doc["projects"] = std::move(projs);
    doc["warnings"] = strings_json(warnings);
    host_.debug("codebase: " + std::to_string(projects.size()) + " projects");
    return json::serialize(doc);
  }

 private:
  sdk::Host host_;
  AnalyzerConfig config_;
};

}  // namespace isb::analyzer

ISB_PLUGIN(isb::analyzer::CodebaseAnalyzer)
