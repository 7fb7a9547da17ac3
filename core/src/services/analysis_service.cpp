// analysis_service.cpp: analyzer fan-out and the merge of their facts.
#include <isb/core/analysis_service.hpp>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <map>

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

}  // namespace

json::object merge_analyses(const std::vector<std::pair<std::string, json::object>>& facts) {
  struct Lang {
    int64_t files = 0, code = 0, comment = 0, blank = 0, bytes = 0;
  };
  std::map<std::string, Lang> langs;
  json::array projects, warnings, analyzers;
  json::value files = json::object{};
  bool have_files = false;
  for (const auto& [id, doc] : facts) {
    json::object a{{"id", id}};
    if (auto* an = doc.if_contains("analyzer"); an && an->is_object()) {
      if (auto* v = an->as_object().if_contains("version")) a["version"] = *v;
    }
    if (auto* d = doc.if_contains("duration_ms")) a["duration_ms"] = *d;
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
    if (auto* w = doc.if_contains("warnings"); w && w->is_array()) {
      for (const auto& e : w->as_array()) warnings.push_back(e);
    }
    if (!have_files) {
      if (auto* f = doc.if_contains("files"); f && f->is_object()) {
        files = *f;
        have_files = true;
      }
    }
  }
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
  json::object out{{"schema_version", 1},
                   {"analyzers", analyzers},
                   {"files", files},
                   {"languages", languages},
                   {"primary_language", sorted.empty() || sorted.front().second.code == 0
                                            ? json::value(nullptr)
                                            : json::value(sorted.front().first)},
                   {"projects", projects},
                   {"warnings", warnings}};
  return out;
}

AnalysisService::AnalysisService(Store& store, WorkspaceService& workspaces, std::vector<AnalyzerPlugin> analyzers)
    : store_(store), workspaces_(workspaces), analyzers_(std::move(analyzers)) {}

Result<json::object> AnalysisService::analyze(const std::string& workspace_id) {
  auto w = workspaces_.get_active(workspace_id);
  if (!w) return w.error();
  if (analyzers_.empty()) {
    return make_error(ErrorCode::kUnavailable,
                      "no analyzer plugin is loaded; check the plugin directories with `intelligent-sandbox plugins`");
  }
  workspaces_.touch(workspace_id);
  auto started = std::chrono::steady_clock::now();
  std::vector<std::pair<std::string, json::object>> facts;
  for (const auto& a : analyzers_) {
    auto r = a.analyze(w->path, json::object{});
    if (!r) return r.error();
    if (!r->is_object()) {
      return make_error(ErrorCode::kInternal, "analyzer '" + a.info().id + "' returned a document that is not an object");
    }
    facts.emplace_back(a.info().id, r->as_object());
  }
  json::object merged = merge_analyses(facts);
  auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);
  merged["workspace_id"] = workspace_id;
  merged["analyzed_at"] = format_time(now_ms());
  merged["duration_ms"] = static_cast<int64_t>(elapsed.count());
  if (auto st = store_.put_analysis(workspace_id, json::serialize(merged), now_ms()); !st) return st.error();
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
    if (!ec && v.is_object()) return v.as_object();
  }
  return analyze(workspace_id);
}

}  // namespace isb
