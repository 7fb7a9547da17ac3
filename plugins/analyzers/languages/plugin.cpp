// plugin.cpp: the "languages" analyzer plugin: files by skip reason and, per
// language, files, code/comment/blank lines and bytes.
//
// Options (analyze): {"depth": "quick"|"full", "max_file_bytes": N}. quick
// walks and classifies the tree without reading files (no line counts).
#include <algorithm>
#include <boost/json.hpp>
#include <chrono>
#include <isb/sdk/plugin.hpp>
#include <map>
#include <string>

#include "common/analyzer_options.hpp"
#include "common/walker.hpp"
#include "languages/language.hpp"

namespace isb::analyzer {

namespace json = boost::json;

namespace {

constexpr const char* kId = "languages";
constexpr const char* kVersion = "0.2.0";

struct Totals {
  std::uint64_t files = 0, code = 0, comment = 0, blank = 0, bytes = 0;
};

}  // namespace

class LanguagesAnalyzer : public sdk::Analyzer {
 public:
  static sdk::PluginInfo info() {
    return {
        kId,
        "Language statistics",
        kVersion,
        "Walks a source tree on every core: files by skip reason (vcs, vendored, generated, binary, too "
        "large, "
        "gitignored) and per language the files, code/comment/blank lines and bytes, counted as cloc does.",
        kAnalyzerConfigSchema,
        ISB_CAP_THREAD_SAFE};
  }

  LanguagesAnalyzer(sdk::Host host, const std::string& config_json)
      : host_(host), config_(parse_analyzer_config(config_json, kId)) {}

  std::string analyze(const sdk::Tree& root, const std::string& options_json) override {
    const auto started = std::chrono::steady_clock::now();
    const AnalyzeOptions options = parse_analyze_options(options_json, config_);

    WalkOptions wo;
    wo.max_file_bytes = options.max_file_bytes;
    wo.threads = config_.threads;
    wo.keep_listing = false;  // statistics need no listing: memory stays flat on huge trees
    if (options.quick) wo.want_content = [](const std::string&) { return false; };
    std::vector<std::map<std::string, Totals>> per_worker(walker_threads(wo));
    WalkResult walk =
        walk_tree(root, wo, [&](unsigned worker, const std::string& rel, std::string_view text) {
          const Language* lang = detect_language(rel, text);
          if (!lang) return;
          LineCounts c = count_lines(*lang, text);
          Totals& t = per_worker[worker][lang->name];
          ++t.files;
          t.code += c.code;
          t.comment += c.comment;
          t.blank += c.blank;
          t.bytes += text.size();
        });

    std::map<std::string, Totals> totals;
    for (const auto& m : per_worker)
      for (const auto& [name, t] : m) {
        Totals& s = totals[name];
        s.files += t.files;
        s.code += t.code;
        s.comment += t.comment;
        s.blank += t.blank;
        s.bytes += t.bytes;
      }
    std::vector<std::pair<std::string, Totals>> sorted(totals.begin(), totals.end());
    std::stable_sort(sorted.begin(), sorted.end(),
                     [](const auto& a, const auto& b) { return a.second.code > b.second.code; });
    json::array langs;
    for (const auto& [name, t] : sorted)
      langs.push_back(json::object{{"name", name},
                                   {"files", t.files},
                                   {"code", t.code},
                                   {"comment", t.comment},
                                   {"blank", t.blank},
                                   {"bytes", t.bytes}});
    json::object doc = facts_header(kId, kVersion, started);
    doc["files"] = files_json(walk);
    doc["languages"] = std::move(langs);
    doc["warnings"] = strings_json(walk.warnings);
    host_.debug("languages: analysed " + std::to_string(walk.analysed) + " files on " +
                std::to_string(walk.workers) + " threads");
    return json::serialize(doc);
  }

 private:
  sdk::Host host_;
  AnalyzerConfig config_;
};

}  // namespace isb::analyzer

ISB_PLUGIN(isb::analyzer::LanguagesAnalyzer)
