// step_evidence.cpp: asking for a step's JUnit report and finding its test
// results afterwards.
#include "services/step_evidence.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "json/json_fields.hpp"
#include "services/step_log.hpp"

namespace json = boost::json;

namespace isb::services {

std::string request_junit_report(const Result<workspaces::BeneathRoot>& workspace_root,
                                 const Result<std::string>& cwd, const std::string& execution_id,
                                 const std::string& step_id, json::object& spec) {
  auto* argv = spec.if_contains("argv");
  if (!argv || !argv->is_array() || !workspace_root || !cwd) return "";
  const std::string rel = std::string(kPrivateDir) + "/reports/" + execution_id + "-" + step_id + ".xml";
  std::string up;
  for (char c : *cwd + "/") up += c == '/' ? "../" : "";
  if (cwd->empty()) up.clear();
  auto with = add_junit_report(argv->as_array(), up + rel);
  if (!with || !workspace_root->sub(std::string(kPrivateDir) + "/reports", true)) return "";
  spec["argv"] = *with;
  return rel;
}

std::optional<TestResults> collect_test_results(const StepTrail& t) {
  std::optional<TestResults> parsed;
  if (!t.report.empty() && t.workspace_root) {
    parsed = parse_junit_at(*t.workspace_root, t.report);
    (void)t.workspace_root->remove(t.report);
    if (parsed) parsed->source = "junit";
  }
  // Artifacts and build-tool reports are paths the step names under its cwd.
  auto cwd_root = t.workspace_root && t.cwd
                      ? t.workspace_root->sub(*t.cwd, false)
                      : Result<workspaces::BeneathRoot>(make_error(ErrorCode::kNotFound, ""));
  if (auto* arts = t.step.if_contains("artifacts"); !parsed && arts && arts->is_array() && cwd_root) {
    for (const auto& a : arts->as_array()) {
      if (!a.is_object()) continue;
      std::string rel = json_fields::string_or(a.as_object(), "path");
      if (rel.empty()) continue;
      if ((parsed = parse_junit_at(*cwd_root, rel))) {
        parsed->source = "junit:" + rel;
        break;
      }
    }
  }
  // Maven and Gradle write JUnit XML on their own; their reports count even
  // when the step did not declare them (only files this step wrote).
  if (!parsed && cwd_root &&
      (runs_build_tool_with_reports(t.command) || json_fields::string_or(t.step, "phase") == "test")) {
    parsed = discover_build_tool_reports(*cwd_root, t.started_at);
  }
  // Summaries are at the end; bounding the text bounds the regex work.
  if (!parsed) {
    parsed = parse_runner_summary(last_bytes(t.stdout_tail, 64 * 1024) + "\n" +
                                  last_bytes(t.stderr_tail, 64 * 1024));
  }
  return parsed;
}

void ChangeWindows::step_started(size_t i, size_t running) {
  if (running == 0) {
    if (!idle_snapshot_) idle_snapshot_ = FileSnapshot::take(path_, {kPrivateDir});
    window_before_ = *idle_snapshot_;
  }
  window_.push_back(i);
}

void ChangeWindows::close(std::vector<StepRecord>& records,
                          const std::function<void(const StepRecord&)>& save) {
  FileSnapshot after = FileSnapshot::take(path_, {kPrivateDir});
  json::object files = after.diff_from(window_before_);
  json::array group;
  for (size_t m : window_) group.push_back(json::value(records[m].step_id));
  for (size_t m : window_) {
    StepRecord& rec = records[m];
    boost::system::error_code ec;
    json::value dv = json::parse(rec.details_json, ec);
    json::object details = !ec && dv.is_object() ? dv.as_object() : json::object{};
    details["files"] = files;
    details["changed_files_scope"] = window_.size() == 1 ? "step" : "concurrent_group";
    if (window_.size() > 1) details["concurrent_steps"] = group;
    rec.details_json = json::serialize(details);
    save(rec);
  }
  window_.clear();
  idle_snapshot_ = std::move(after);
}

}  // namespace isb::services
