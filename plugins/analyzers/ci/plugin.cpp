// plugin.cpp: the "ci" analyzer plugin: every command the repository's CI
// runs, with file, line, job and step, classified by intent. The core ranks a
// classified CI command above manifest scripts and ecosystem defaults when it
// merges the facts of all analyzers (see core/src/services/analysis_service.cpp).
#include <boost/json.hpp>
#include <chrono>
#include <isb/sdk/plugin.hpp>
#include <map>
#include <mutex>
#include <string>

#include "ci/ci_commands.hpp"
#include "common/analyzer_options.hpp"
#include "common/walker.hpp"

namespace isb::analyzer {

namespace json = boost::json;

namespace {

constexpr const char* kId = "ci";
constexpr const char* kVersion = "0.1.0";

bool is_workflow(const std::string& rel) {
  if (rel == ".gitlab-ci.yml") return true;
  const std::string dir = ".github/workflows/";
  if (rel.compare(0, dir.size(), dir) != 0 || rel.find('/', dir.size()) != std::string::npos) return false;
  return rel.size() > 4 &&
         (rel.compare(rel.size() - 4, 4, ".yml") == 0 || rel.compare(rel.size() - 5, 5, ".yaml") == 0);
}

}  // namespace

class CiAnalyzer : public sdk::Analyzer {
 public:
  static sdk::PluginInfo info() {
    return {
        kId,
        "CI commands",
        kVersion,
        "Lists the commands of GitHub Actions workflows and .gitlab-ci.yml with file, line, job, step and "
        "working directory, classified as install/build/test/lint/format.",
        kAnalyzerConfigSchema,
        ISB_CAP_THREAD_SAFE};
  }

  CiAnalyzer(sdk::Host host, const std::string& config_json)
      : host_(host), config_(parse_analyzer_config(config_json, kId)) {}

  std::string analyze(const sdk::Tree& root, const std::string& options_json) override {
    const auto started = std::chrono::steady_clock::now();
    const AnalyzeOptions options = parse_analyze_options(options_json, config_);

    WalkOptions wo;
    wo.max_file_bytes = options.max_file_bytes;
    wo.threads = 1;  // a handful of small files: a pool would cost more than it saves
    wo.want_content = is_workflow;
    wo.keep_listing = false;                   // only the workflow files matter
    std::map<std::string, std::string> files;  // sorted: a stable order of commands
    WalkResult walk = walk_tree(root, wo, [&](unsigned, const std::string& rel, std::string_view content) {
      files.emplace(rel, std::string(content));
    });
    std::vector<std::string> warnings;
    std::vector<CiCommand> commands;
    for (const auto& [rel, text] : files) {
      if (rel == ".gitlab-ci.yml")
        read_gitlab_ci(rel, text, commands, warnings);
      else
        read_github_workflow(rel, text, commands, warnings);
    }
    json::array ci;
    for (const auto& c : commands) {
      json::object o{{"file", c.file}, {"line", c.line}, {"job", c.job},
                     {"step", c.step}, {"run", c.run},   {"cwd", c.cwd}};
      o["kind"] = c.kind.empty() ? json::value(nullptr) : json::value(c.kind);
      o["ecosystem"] = c.ecosystem.empty() ? json::value(nullptr) : json::value(c.ecosystem);
      ci.push_back(std::move(o));
    }
    json::object doc = facts_header(kId, kVersion, started);
    doc["ci"] = std::move(ci);
    doc["warnings"] = strings_json(warnings);
    host_.debug("ci: " + std::to_string(commands.size()) + " commands");
    return json::serialize(doc);
  }

 private:
  sdk::Host host_;
  AnalyzerConfig config_;
};

}  // namespace isb::analyzer

ISB_PLUGIN(isb::analyzer::CiAnalyzer)
