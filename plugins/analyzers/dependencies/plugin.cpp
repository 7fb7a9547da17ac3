// plugin.cpp: the "dependencies" analyzer plugin: every dependency the
// tree's manifests declare and its lockfiles resolve, and each project's
// frameworks with evidence. The walk only lists directories; the few files
// whose names are manifests or lockfiles (see projects.cpp) are read, never
// the rest of the tree, each beneath the tree's root fd (sdk::Tree).
#include <algorithm>
#include <boost/json.hpp>
#include <chrono>
#include <isb/sdk/plugin.hpp>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "common/analyzer_options.hpp"
#include "common/walker.hpp"
#include "dependencies/dependency.hpp"
#include "dependencies/projects.hpp"

namespace isb::analyzer {

namespace json = boost::json;

namespace {

constexpr const char* kId = "dependencies";
constexpr const char* kVersion = "0.1.0";

// Reads one listed file beneath the root (no symlink anywhere on its path).
// An empty optional with `why` set when it cannot or should not be read.
std::optional<std::string> read_listed(const sdk::Tree& root, const std::string& rel, std::uint64_t max,
                                       std::string& why) {
  std::string out;
  int err = 0;
  switch (root.read_file(rel, max, out, &err)) {
    case sdk::ReadStatus::kOk:
      return out;
    case sdk::ReadStatus::kTooLarge:
      why = "larger than max_file_bytes (" + std::to_string(max) + ")";
      break;
    case sdk::ReadStatus::kNotRegular:
      why = "not a regular file";
      break;
    case sdk::ReadStatus::kError:
      why = sdk::describe_error(err);
      break;
  }
  return std::nullopt;
}

json::value str_or_null(const std::string& s) { return s.empty() ? json::value(nullptr) : json::value(s); }

json::object dependency_json(const deps::Dependency& d) {
  json::object o{{"ecosystem", d.ecosystem},
                 {"name", d.name},
                 {"constraint", str_or_null(d.constraint)},
                 {"resolved", str_or_null(d.resolved)},
                 {"scope", deps::scope_name(d.scope)},
                 {"direct", d.direct},
                 {"file", d.file},
                 {"project", d.project}};
  if (d.line > 0) o["line"] = d.line;
  if (!d.marker.empty()) o["marker"] = d.marker;
  return o;
}

json::object project_json(const deps::ProjectDependencies& p) {
  std::int64_t direct = 0, transitive = 0;
  for (const auto& d : p.dependencies) (d.direct ? direct : transitive)++;
  json::array frameworks;
  for (const auto& f : p.frameworks) {
    json::array ev;
    for (const auto& e : f.evidence) {
      json::object eo{{"file", e.file}, {"detail", e.detail}};
      if (e.line > 0) eo["line"] = e.line;
      ev.push_back(std::move(eo));
    }
    frameworks.push_back(json::object{{"name", f.name},
                                      {"category", f.category},
                                      {"version", str_or_null(f.version)},
                                      {"evidence", std::move(ev)}});
  }
  return json::object{{"path", p.path},
                      {"ecosystem", p.ecosystem},
                      {"manifests", strings_json(p.manifests)},
                      {"lockfiles", strings_json(p.lockfiles)},
                      {"dependency_count", json::object{{"direct", direct}, {"transitive", transitive}}},
                      {"frameworks", std::move(frameworks)},
                      {"test_framework", str_or_null(p.test_framework)}};
}

}  // namespace

class DependenciesAnalyzer : public sdk::Analyzer {
 public:
  static sdk::PluginInfo info() {
    return {kId,
            "Dependencies and frameworks",
            kVersion,
            "Parses manifests and lockfiles (npm, PyPI, Cargo, Go, Maven, NuGet, RubyGems, Packagist, Hex, CMake, "
            "Conan, vcpkg) into dependencies with declared constraint, resolved version, scope and directness, and "
            "names each project's frameworks and test framework with evidence.",
            kAnalyzerConfigSchema,
            ISB_CAP_THREAD_SAFE};
  }

  DependenciesAnalyzer(sdk::Host host, const std::string& config_json)
      : host_(host), config_(parse_analyzer_config(config_json, kId)) {}

  std::string analyze(const sdk::Tree& root, const std::string& options_json) override {
    const auto started = std::chrono::steady_clock::now();
    const AnalyzeOptions options = parse_analyze_options(options_json, config_);

    // A listing-only walk: the skip rules (vendored, .gitignore, vcs) apply,
    // and no file is opened by the walker.
    WalkOptions wo;
    wo.max_file_bytes = options.max_file_bytes;
    wo.threads = 1;
    wo.want_content = [](const std::string&) { return false; };
    WalkResult walk = walk_tree(root, wo, [](unsigned, const std::string&, std::string_view) {});
    std::vector<std::string> warnings;

    std::map<std::string, std::unique_ptr<std::string>> texts;  // rel -> content (stable addresses)
    auto listed = [&](const std::string& rel) {
      auto it = walk.dirs.find(parent_rel(rel));
      return it != walk.dirs.end() && it->second.files.count(base_name(rel)) > 0;
    };
    deps::ReadFile read = [&](const std::string& rel) -> const std::string* {
      if (auto it = texts.find(rel); it != texts.end()) return it->second.get();
      if (rel.starts_with("../") || !listed(rel)) return nullptr;
      std::string why;
      auto text = read_listed(root, rel, options.max_file_bytes, why);
      if (!text) {
        warnings.push_back("cannot read " + rel + ": " + why + " (its dependencies are left out)");
        texts.emplace(rel, nullptr);
        return nullptr;
      }
      return texts.emplace(rel, std::make_unique<std::string>(std::move(*text))).first->second.get();
    };

    std::vector<deps::ParsedFile> parsed;
    for (const auto& [dir, listing] : walk.dirs) {
      std::set<std::string> requirements_seen;  // -r includes are read once per directory
      for (const auto& name : listing.files) {
        const deps::FileKind* kind = deps::file_kind(name);
        if (!kind) continue;
        const std::string rel = join_rel(dir, name);
        if (!kind->parse && requirements_seen.count(rel)) continue;
        const std::string* text = read(rel);
        if (!text) continue;
        deps::ParsedFile pf{rel, kind, {}};
        if (kind->parse) {
          kind->parse({rel, *text}, pf.facts);
          // TOML tables iterate by key; the file's own order reads better.
          std::stable_sort(pf.facts.declared.begin(), pf.facts.declared.end(),
                           [](const auto& a, const auto& b) { return a.line < b.line; });
        } else
          deps::parse_requirements_txt({rel, *text}, pf.facts, read, requirements_seen);
        for (auto& w : pf.facts.warnings) warnings.push_back(std::move(w));
        parsed.push_back(std::move(pf));
      }
    }

    std::vector<deps::ProjectDependencies> projects = deps::resolve(parsed, walk);
    deps::detect_frameworks(projects, walk);

    json::array projs, all;
    for (const auto& p : projects) {
      projs.push_back(project_json(p));
      if (options.include_dependencies)
        for (const auto& d : p.dependencies) all.push_back(dependency_json(d));
    }
    json::object doc = facts_header(kId, kVersion, started);
    doc["dependency_projects"] = std::move(projs);
    if (options.include_dependencies) doc["dependencies"] = std::move(all);
    doc["warnings"] = strings_json(warnings);
    host_.debug("dependencies: " + std::to_string(parsed.size()) + " manifests and lockfiles");
    return json::serialize(doc);
  }

 private:
  sdk::Host host_;
  AnalyzerConfig config_;
};

}  // namespace isb::analyzer

ISB_PLUGIN(isb::analyzer::DependenciesAnalyzer)
