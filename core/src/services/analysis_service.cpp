// analysis_service.cpp: analyzer fan-out, the merge of their facts, and the
// fingerprint cache. The workspace tree is written by sandboxed code: it is
// opened once, and the fingerprint walk and every analyzer work beneath that
// directory fd, never on path strings into the tree.
// The workspace tree is read only through the fd opened beneath it; the cache is the FileCache's.
#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <algorithm>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <future>
#include <isb/core/analysis_service.hpp>

#include "json/json_fields.hpp"
#include <map>
#include <sstream>
#include <system_error>

#include "workspaces/safe_path.hpp"

namespace json = boost::json;

namespace isb {

namespace {

int64_t as_int(const json::value* v) {
  if (!v) return 0;
  if (v->is_int64()) return v->as_int64();
  if (v->is_uint64()) return static_cast<int64_t>(v->as_uint64());
  if (v->is_double()) return static_cast<int64_t>(v->as_double());
  return 0;
}

json::object empty_files() {
  return json::object{
      {"total", 0},
      {"analysed", 0},
      {"skipped",
       json::object{
           {"vcs", 0}, {"vendored", 0}, {"generated", 0}, {"binary", 0}, {"too_large", 0}, {"ignored", 0}}},
      {"skipped_samples", json::array{}}};
}

// A CI line runs as given: characters a shell would interpret keep it a shell
// line, anything else becomes argv.
json::object ci_command_json(const json::object& ci, const std::string& cwd) {
  const std::string run = json_fields::string_or(ci, "run");
  json::object cmd;
  if (run.find_first_of("|&;<>()$`\\\"'*?[]#~=%{}") != std::string::npos) {
    cmd["shell"] = run;
  } else {
    json::array argv;
    std::istringstream in(run);
    for (std::string w; in >> w;) argv.push_back(json::string(w));
    cmd["argv"] = std::move(argv);
  }
  cmd["cwd"] = cwd;
  cmd["source"] = "ci_workflow";
  cmd["confidence"] = 0.95;
  json::object ev{{"file", json_fields::string_or(ci, "file")},
                  {"detail", "CI job \"" + json_fields::string_or(ci, "job") + "\", " + json_fields::string_or(ci, "step") + " runs it"}};
  if (int64_t line = as_int(ci.if_contains("line")); line > 0) ev["line"] = line;
  cmd["evidence"] = json::array{std::move(ev)};
  return cmd;
}

// Applies classified CI commands to the projects they run in (see the header).
void rank_ci_commands(json::array& projects, const json::array& ci) {
  for (const auto& entry : ci) {
    if (!entry.is_object()) continue;
    const json::object& c = entry.as_object();
    auto* kind = c.if_contains("kind");
    auto* eco = c.if_contains("ecosystem");
    if (!kind || !kind->is_string() || !eco || !eco->is_string()) continue;
    const std::string cwd = json_fields::string_or(c, "cwd");
    for (auto& p : projects) {
      if (!p.is_object()) continue;
      json::object& proj = p.as_object();
      if (json_fields::string_or(proj, "path") != cwd || json_fields::string_or(proj, "ecosystem") != eco->as_string()) continue;
      json::value& cmds = proj["commands"];
      if (!cmds.is_object()) cmds = json::object{};
      const std::string k(kind->as_string());
      auto* existing = cmds.as_object().if_contains(k);
      // The first CI command of a kind wins; later ones (other jobs, matrix
      // repeats) do not replace it.
      if (existing && existing->is_object() && json_fields::string_or(existing->as_object(), "source") == "ci_workflow")
        continue;
      cmds.as_object()[k] = ci_command_json(c, cwd);
    }
  }
}

// Gives every project the dependencies analyzer's facts about it (frameworks,
// test framework, dependency counts), matched by path and ecosystem. Projects
// it has nothing on get empty ones, so that every project has the same shape
// whenever that analyzer ran.
void attach_dependency_facts(json::array& projects, const json::array& dep_projects) {
  std::map<std::pair<std::string, std::string>, const json::object*> by_key;
  for (const auto& e : dep_projects)
    if (e.is_object()) by_key[{json_fields::string_or(e.as_object(), "path"), json_fields::string_or(e.as_object(), "ecosystem")}] = &e.as_object();
  for (auto& p : projects) {
    if (!p.is_object()) continue;
    json::object& proj = p.as_object();
    auto it = by_key.find({json_fields::string_or(proj, "path"), json_fields::string_or(proj, "ecosystem")});
    const json::object* d = it == by_key.end() ? nullptr : it->second;
    auto field = [&](const char* key, json::value fallback) {
      auto* v = d ? d->if_contains(key) : nullptr;
      proj[key] = v ? *v : std::move(fallback);
    };
    field("frameworks", json::array{});
    field("test_framework", nullptr);
    field("dependency_count", json::object{{"direct", 0}, {"transitive", 0}});
  }
}

// FNV-1a, 64 bits: fast, and collisions only cost a stale cache entry when a
// tree changes in a way that happens to hash equal.
struct Fnv {
  uint64_t h = 1469598103934665603ull;
  void add(std::string_view s) {
    for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
    h = (h ^ 0xff) * 1099511628211ull;  // separator
  }
  void add(uint64_t v) { add(std::string_view(reinterpret_cast<const char*>(&v), sizeof v)); }
};

const char* depth_name(AnalysisDepth d) { return d == AnalysisDepth::kQuick ? "quick" : "full"; }

}  // namespace

Result<std::string> tree_fingerprint(int root_dirfd) {
  Fnv f;
  // Sorted, parents before children, each directory opened from its parent's
  // fd without following symlinks: a swapped-in symlink is hashed as a
  // symlink, never entered.
  auto walked = workspaces::walk_beneath(root_dirfd, "", [&f](const workspaces::WalkEntry& e) {
    f.add(e.rel);
    f.add(static_cast<uint64_t>(e.st.st_mode));
    f.add(static_cast<uint64_t>(e.st.st_size));
    f.add(static_cast<uint64_t>(e.st.st_mtim.tv_sec) * 1000000000ull +
          static_cast<uint64_t>(e.st.st_mtim.tv_nsec));
    return true;
  });
  if (!walked) {
    return make_error(walked.error().code,
                      "cannot fingerprint the workspace tree: " + walked.error().message +
                          " (if the tree was changing, call analyze_codebase again)");
  }
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(f.h));
  return std::string(buf);
}

json::object merge_analyses(const std::vector<std::pair<std::string, json::object>>& facts) {
  struct Lang {
    int64_t files = 0, code = 0, comment = 0, blank = 0, bytes = 0;
  };
  std::map<std::string, Lang> langs;
  json::array projects, warnings, analyzers, ci, dep_projects, dependencies;
  bool have_dependency_facts = false, have_dependency_list = false;
  json::object files = empty_files();
  bool have_files = false;
  for (const auto& [id, doc] : facts) {
    json::object a{{"id", id}, {"version", ""}, {"duration_ms", as_int(doc.if_contains("duration_ms"))}};
    if (auto* an = doc.if_contains("analyzer"); an && an->is_object()) {
      if (auto* v = an->as_object().if_contains("version"); v && v->is_string()) a["version"] = *v;
    }
    analyzers.push_back(a);
    if (auto* l = doc.if_contains("languages"); l && l->is_array()) {
      for (const auto& e : l->as_array()) {
        if (!e.is_object()) continue;
        const auto& o = e.as_object();
        auto* name = o.if_contains("name");
        if (!name || !name->is_string()) continue;
        Lang& t = langs[std::string(name->as_string())];
        t.files += as_int(o.if_contains("files"));
        t.code += as_int(o.if_contains("code"));
        t.comment += as_int(o.if_contains("comment"));
        t.blank += as_int(o.if_contains("blank"));
        t.bytes += as_int(o.if_contains("bytes"));
      }
    }
    if (auto* p = doc.if_contains("projects"); p && p->is_array()) {
      for (const auto& e : p->as_array()) {
        json::value copy = e;
        if (copy.is_object()) copy.as_object()["analyzer"] = id;
        projects.push_back(copy);
      }
    }
    if (auto* d = doc.if_contains("dependency_projects"); d && d->is_array()) {
      have_dependency_facts = true;
      for (const auto& e : d->as_array()) dep_projects.push_back(e);
    }
    if (auto* d = doc.if_contains("dependencies"); d && d->is_array()) {
      have_dependency_list = true;
      for (const auto& e : d->as_array()) dependencies.push_back(e);
    }
    if (auto* c = doc.if_contains("ci"); c && c->is_array()) {
      for (const auto& e : c->as_array()) ci.push_back(e);
    }
    if (auto* w = doc.if_contains("warnings"); w && w->is_array()) {
      for (const auto& e : w->as_array()) warnings.push_back(e);
    }
    if (!have_files) {
      if (auto* f = doc.if_contains("files"); f && f->is_object()) {
        files = f->as_object();
        have_files = true;
      }
    }
  }
  rank_ci_commands(projects, ci);
  if (have_dependency_facts) attach_dependency_facts(projects, dep_projects);
  int64_t total_code = 0;
  for (const auto& [_, l] : langs) total_code += l.code;
  std::vector<std::pair<std::string, Lang>> sorted(langs.begin(), langs.end());
  std::stable_sort(sorted.begin(), sorted.end(),
                   [](const auto& a, const auto& b) { return a.second.code > b.second.code; });
  json::array languages;
  for (const auto& [name, l] : sorted) {
    double share = total_code ? static_cast<double>(l.code) / static_cast<double>(total_code) : 0.0;
    languages.push_back(json::object{{"name", name},
                                     {"files", l.files},
                                     {"code", l.code},
                                     {"comment", l.comment},
                                     {"blank", l.blank},
                                     {"bytes", l.bytes},
                                     {"share", std::round(share * 10000) / 10000}});
  }
  json::object out{{"schema_version", 2},
                   {"analyzers", analyzers},
                   {"files", files},
                   {"languages", languages},
                   {"primary_language", sorted.empty() || sorted.front().second.code == 0
                                            ? json::value(nullptr)
                                            : json::value(sorted.front().first)},
                   {"projects", projects},
                   {"ci", ci},
                   {"warnings", warnings}};
  if (have_dependency_list) out["dependencies"] = std::move(dependencies);
  return out;
}

namespace {

// Why an analyzer built against ABI 1.0/1.1 is never given a workspace tree.
std::string legacy_analyzer_reason(const AnalyzerPlugin& a) {
  return "it was built against plugin ABI " + std::to_string(a.info().abi_major) + "." +
         std::to_string(a.info().abi_minor) +
         " and reads a tree by path, which code in the workspace could redirect to host files; rebuild it "
         "against ABI 1.2 (analyze_tree) to use it";
}

Result<workspaces::BeneathRoot> open_tree(const std::string& workspace_id, const std::string& path) {
  // The one opening of the tree by path: the workspace root itself is the
  // server's directory, out of the sandbox's reach; what lies beneath is not.
  auto root = workspaces::BeneathRoot::open(path);
  if (!root) {
    return make_error(root.error().code, "cannot open workspace '" + workspace_id +
                                             "' for analysis: " + root.error().message +
                                             "; list_workspaces shows whether it still exists");
  }
  return root;
}

}  // namespace

AnalysisService::AnalysisService(Store& store, WorkspaceService& workspaces,
                                 std::vector<AnalyzerPlugin> analyzers, FileCache* cache)
    : store_(store), workspaces_(workspaces), analyzers_(std::move(analyzers)), cache_(cache) {
  for (const auto& a : analyzers_) {
    if (!a.reads_tree_fd())
      spdlog::warn("analyzer '{}' ({}) will be skipped in every analysis: {}", a.info().id, a.info().path,
                   legacy_analyzer_reason(a));
  }
}

Result<json::object> AnalysisService::analyze(const std::string& workspace_id,
                                              const AnalysisOptions& options) {
  auto w = workspaces_.get_active(workspace_id);
  if (!w) return w.error();
  if (analyzers_.empty()) {
    return make_error(
        ErrorCode::kUnavailable,
        "no analyzer plugin is loaded; check the plugin directories with `intelligent-sandbox plugins`");
  }
  workspaces_.touch(workspace_id);
  const auto started = std::chrono::steady_clock::now();
  auto elapsed_ms = [&] {
    return static_cast<int64_t>(
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started)
            .count());
  };

  auto root = open_tree(workspace_id, w->path);
  if (!root) return root.error();
  auto fingerprint = tree_fingerprint(root->fd());
  if (!fingerprint) return fingerprint.error();
  // The key covers what else decides the result: options and analyzer versions.
  std::string key = std::string("depth=") + depth_name(options.depth) +
                    ";deps=" + (options.include_dependencies ? "full" : "summary");
  for (const auto& a : analyzers_) key += ";" + a.info().id + "@" + a.info().version;
  constexpr std::string_view kSpace = "analysis";
  if (auto text = cache_ ? cache_->get(kSpace, workspace_id) : std::nullopt) {
    boost::system::error_code ec;
    json::value cached = json::parse(*text, ec);
    if (!ec && cached.is_object() && json_fields::string_or(cached.as_object(), "fingerprint") == *fingerprint &&
        json_fields::string_or(cached.as_object(), "key") == key) {
      if (auto* r = cached.as_object().if_contains("result"); r && r->is_object()) {
        json::object result = r->as_object();
        result["cached"] = true;
        result["duration_ms"] = elapsed_ms();
        if (auto st = store_.put_analysis(workspace_id, json::serialize(result), now_ms()); !st)
          return st.error();
        return result;
      }
    }
  }

  json::object opts{{"depth", depth_name(options.depth)}, {"include_dependencies", options.include_dependencies}};
  // Fail-closed: an analyzer that can only take a path is never given one.
  std::vector<const AnalyzerPlugin*> runnable;
  json::array skipped;
  for (const auto& a : analyzers_) {
    if (a.reads_tree_fd())
      runnable.push_back(&a);
    else
      skipped.push_back(
          json::string("analyzer '" + a.info().id + "' was skipped: " + legacy_analyzer_reason(a)));
  }
  if (runnable.empty()) {
    return make_error(
        ErrorCode::kUnavailable,
        "no loaded analyzer can read a workspace tree safely: every one was built against plugin ABI "
        "1.0 or 1.1 and reads trees by path; install analyzers built against ABI 1.2 (check with "
        "`intelligent-sandbox plugins`)");
  }
  // Analyzers run concurrently: each is its own instance, and the slow one
  // (line counting) should not wait for the others. They share the root fd,
  // which stays open until every one has returned.
  const int root_fd = root->fd();
  std::vector<std::future<Result<json::value>>> running;
  for (const AnalyzerPlugin* a : runnable)
    running.push_back(
        std::async(std::launch::async, [a, root_fd, &opts] { return a->analyze(root_fd, opts); }));
  std::vector<Result<json::value>> results;
  for (auto& r : running) results.push_back(r.get());
  std::vector<std::pair<std::string, json::object>> facts;
  for (size_t i = 0; i < runnable.size(); ++i) {
    auto& r = results[i];
    if (!r) return r.error();
    if (!r->is_object()) {
      return make_error(ErrorCode::kInternal, "analyzer '" + runnable[i]->info().id +
                                                  "' returned a document that is not an object");
    }
    facts.emplace_back(runnable[i]->info().id, r->as_object());
  }
  json::object merged = merge_analyses(facts);
  if (!skipped.empty()) {
    json::array& warnings = merged["warnings"].as_array();
    for (auto& s : skipped) warnings.push_back(std::move(s));
  }
  merged["workspace_id"] = workspace_id;
  merged["analyzed_at"] = format_time(now_ms());
  merged["fingerprint"] = *fingerprint;
  merged["cached"] = false;
  merged["options"] = opts;
  merged["duration_ms"] = elapsed_ms();
  if (auto st = store_.put_analysis(workspace_id, json::serialize(merged), now_ms()); !st) return st.error();

  if (cache_) {
    cache_->put(
        kSpace, workspace_id,
        json::serialize(json::object{{"fingerprint", *fingerprint}, {"key", key}, {"result", merged}}));
  }
  return merged;
}

Result<json::object> AnalysisService::latest_or_analyze(const std::string& workspace_id) {
  auto w = workspaces_.get_active(workspace_id);
  if (!w) return w.error();
  auto stored = store_.latest_analysis(workspace_id);
  if (!stored) return stored.error();
  if (*stored) {
    boost::system::error_code ec;
    auto v = json::parse(**stored, ec);
    if (!ec && v.is_object()) {
      auto root = open_tree(workspace_id, w->path);
      if (!root) return root.error();
      auto fp = tree_fingerprint(root->fd());
      // An analysis of an older state of the tree would plan from stale facts.
      if (fp && json_fields::string_or(v.as_object(), "fingerprint") == *fp) return v.as_object();
    }
  }
  return analyze(workspace_id);
}

}  // namespace isb
