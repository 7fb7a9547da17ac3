// execution_history.cpp: what the executor recorded, as clients read it: a
// step and an execution described from their records, history pages, and
// slices of a step's full log.
#include <boost/json/parse.hpp>
#include <cstdio>
#include <filesystem>
#include <isb/core/execution_service.hpp>

#include "json/json_fields.hpp"
#include "services/step_graph.hpp"
#include "services/step_log.hpp"
#include "time/utc_time.hpp"

namespace json = boost::json;
namespace fs = std::filesystem;

namespace isb {

using json_fields::int_or_null;

json::object ExecutionService::describe_step(const StepRecord& s, bool full_output) const {
  boost::system::error_code ec;
  json::value command = json::parse(s.command_json, ec);
  if (ec) command = json::object{};
  json::value usage = nullptr;
  if (auto res = json::parse(s.result_json, ec); !ec && res.is_object()) {
    if (auto* u = res.as_object().if_contains("usage")) usage = *u;
  }
  json::value details_v = json::parse(s.details_json, ec);
  json::object details = !ec && details_v.is_object() ? details_v.as_object() : json::object{};
  auto detail = [&](const char* key, json::value fallback) {
    auto* v = details.if_contains(key);
    return v ? *v : fallback;
  };
  json::object o{{"step_id", s.step_id},
                 {"title", s.title},
                 {"phase", detail("phase", "custom")},
                 {"command", command},
                 {"cwd", s.cwd},
                 {"status", s.status},
                 {"reason", detail("reason", "")},
                 {"exit_code", int_or_null(s.exit_code)},
                 {"signal", int_or_null(s.signal)},
                 {"timed_out", s.timed_out},
                 {"duration_ms", s.duration_ms},
                 {"output_truncated", s.output_truncated},
                 {"started_at", format_time(s.started_at)},
                 {"finished_at", format_time(s.finished_at)},
                 {"usage", usage},
                 {"attempts", detail("attempts", json::array{})},
                 {"tests", detail("tests", nullptr)},
                 {"files", detail("files", nullptr)},
                 {"changed_files_scope", detail("changed_files_scope", nullptr)},
                 {"logs", detail("logs", nullptr)}};
  // The backend says which limit killed a command (memory, pids, timeout);
  // the executor's own disk watch says "disk".
  json::value killed_by = detail("killed_by", nullptr);
  if (killed_by.is_null()) {
    if (auto res = json::parse(s.result_json, ec); !ec && res.is_object()) {
      if (auto* k = res.as_object().if_contains("killed_by")) killed_by = *k;
    }
  }
  o["killed_by"] = killed_by;
  if (auto* group = details.if_contains("concurrent_steps")) o["concurrent_steps"] = *group;
  if (full_output) {
    o["stdout"] = s.stdout_text;
    o["stderr"] = s.stderr_text;
  } else {
    o["stdout_tail"] = services::last_bytes(s.stdout_text, services::kHistoryTail);
    o["stderr_tail"] = services::last_bytes(s.stderr_text, services::kHistoryTail);
  }
  return o;
}

Result<json::object> ExecutionService::final_result(const ExecutionRecord& e) const {
  if (e.status == "running") {
    return make_error(
        ErrorCode::kFailedPrecondition,
        "execution '" + e.id +
            "' is recorded as running, but this server does not run it; another "
            "server process sharing the state directory may; get_execution_history shows its steps");
  }
  if (e.kind == "command") {
    if (e.steps.empty()) {
      return make_error(ErrorCode::kFailedPrecondition,
                        "execution '" + e.id + "' ended " + e.status +
                            (e.reason.empty() ? std::string() : " (" + e.reason + ")") +
                            " before its command was recorded; get_execution_history shows what is known");
    }
    json::object out = describe_step(e.steps.front(), true);
    out["execution_id"] = e.id;
    out["workspace_id"] = e.workspace_id;
    return out;
  }
  if (e.status == "interrupted") {
    return make_error(ErrorCode::kFailedPrecondition,
                      "execution '" + e.id + "' of plan '" + e.plan_id + "' was interrupted: " +
                          (e.reason.empty() ? std::string("the server stopped while it ran") : e.reason) +
                          "; get_execution_history shows the steps that ended before");
  }
  json::array step_results;
  for (const auto& r : e.steps) step_results.push_back(describe_step(r, false));
  return json::object{{"execution_id", e.id},
                      {"plan_id", e.plan_id},
                      {"workspace_id", e.workspace_id},
                      {"status", e.status},
                      {"reason", e.reason},
                      {"exit_code", int_or_null(e.exit_code)},
                      {"started_at", format_time(e.started_at)},
                      {"finished_at", format_time(e.finished_at)},
                      {"duration_ms", e.finished_at - e.started_at},
                      {"steps", step_results}};
}

Result<json::object> ExecutionService::history(const HistoryQuery& hq) {
  auto w = workspaces_.get_any(hq.workspace_id);
  if (!w) return w.error();
  ExecutionQuery q;
  q.workspace_id = hq.workspace_id;
  q.plan_id = hq.plan_id;
  q.status = hq.status;
  q.limit = hq.limit > 0 ? std::min<int64_t>(hq.limit, 500) : 50;
  if (!hq.since.empty()) {
    auto since = parse_rfc3339_ms(hq.since);
    if (!since) {
      return make_error(ErrorCode::kInvalidArgument, "since: '" + hq.since +
                                                         "' is not an RFC 3339 UTC time; use e.g. "
                                                         "2026-11-26T12:00:00Z");
    }
    q.since_ms = *since;
  }
  if (!hq.cursor.empty()) {
    long long started = 0, rowid = 0;
    char extra = 0;
    if (std::sscanf(hq.cursor.c_str(), "c%lld.%lld%c", &started, &rowid, &extra) != 2 || started <= 0 ||
        rowid <= 0) {
      return make_error(ErrorCode::kInvalidArgument,
                        "cursor: '" + hq.cursor +
                            "' is not a cursor of this server; pass the next_cursor of "
                            "an earlier page, or omit it for the first page");
    }
    q.before_started_at = started;
    q.before_rowid = rowid;
  }
  const int64_t page = q.limit;
  q.limit = page + 1;  // one more tells whether there is a next page
  auto rows = store_.list_executions(q);
  if (!rows) return rows.error();
  json::value next_cursor = nullptr;
  if (static_cast<int64_t>(rows->size()) > page) {
    rows->resize(static_cast<size_t>(page));
    const auto& last = rows->back();
    next_cursor = "c" + std::to_string(last.started_at) + "." + std::to_string(last.rowid);
  }
  json::array items;
  for (const auto& e : *rows) {
    json::array steps;
    for (const auto& s : e.steps) steps.push_back(describe_step(s, false));
    items.push_back(
        json::object{{"execution_id", e.id},
                     {"kind", e.kind},
                     {"plan_id", e.plan_id.empty() ? json::value(nullptr) : json::value(e.plan_id)},
                     {"status", e.status},
                     {"exit_code", int_or_null(e.exit_code)},
                     {"started_at", format_time(e.started_at)},
                     {"finished_at", format_time(e.finished_at)},
                     {"duration_ms", e.finished_at ? e.finished_at - e.started_at : 0},
                     {"steps", steps}});
  }
  return json::object{{"workspace_id", hq.workspace_id},
                      {"workspace_status", w->status},
                      {"count", static_cast<int64_t>(items.size())},
                      {"next_cursor", next_cursor},
                      {"executions", items}};
}

Result<json::object> ExecutionService::log(const std::string& execution_id, const std::string& step_id,
                                           const std::string& stream, int64_t offset, int64_t limit) {
  if (stream != "stdout" && stream != "stderr") {
    return make_error(ErrorCode::kInvalidArgument, "stream: '" + stream + "' is not stdout or stderr");
  }
  if (offset < 0) return make_error(ErrorCode::kInvalidArgument, "offset must be 0 or more");
  if (limit <= 0) limit = 64 * 1024;
  limit = std::min(limit, services::kMaxLogSlice);
  auto e = store_.get_execution(execution_id);
  if (!e) return e.error();
  if (!*e) {
    return make_error(ErrorCode::kNotFound, "execution '" + execution_id +
                                                "' not found; get_execution_history lists execution ids");
  }
  // step_id names a file under the logs directory: it must be one of this
  // execution's steps (recorded, or for a running plan one of its plan's
  // steps), never a path, before any file name is built from it.
  std::string known;
  for (const auto& s : (*e)->steps) known += (known.empty() ? "" : ", ") + s.step_id;
  auto unknown_step = [&] {
    return make_error(ErrorCode::kNotFound,
                      "execution '" + execution_id + "' has no step '" + step_id +
                          "'; its steps are: " + (known.empty() ? "none recorded" : known));
  };
  if (!services::is_valid_step_id(step_id)) return unknown_step();
  const StepRecord* rec = nullptr;
  for (const auto& s : (*e)->steps) {
    if (s.step_id == step_id) rec = &s;
  }
  const bool running = (*e)->status == "running";
  if (!rec) {
    bool planned = false;
    if (running && !(*e)->plan_id.empty()) {
      if (auto plan = plans_.get((*e)->plan_id)) {
        for (const auto& st : plans_.describe(*plan).at("steps").as_array()) {
          if (st.is_object() && st.as_object().contains("id") && st.as_object().at("id") == step_id.c_str()) {
            planned = true;
          }
        }
      }
    } else if (running && (*e)->kind == "command") {
      planned = step_id == "command";
    }
    if (!planned) return unknown_step();
  }
  if (rec && rec->status == "skipped") {
    return make_error(ErrorCode::kNotFound, "step '" + step_id + "' of execution '" + execution_id +
                                                "' was skipped and has no output");
  }
  // Opened beneath the logs directory without following any symlink.
  auto file = services::open_step_log((fs::path(config_.state_dir()) / "logs").string(), execution_id,
                                      step_id, stream);
  if (!file) {
    return make_error(ErrorCode::kNotFound, "the " + stream + " log of step '" + step_id +
                                                "' of execution '" + execution_id +
                                                "' is not there (not started yet, or removed)");
  }
  struct stat st {};
  if (::fstat(file->get(), &st) < 0 || !S_ISREG(st.st_mode)) {
    return make_error(ErrorCode::kInternal,
                      "the " + stream + " log of step '" + step_id + "' is not a regular file");
  }
  const int64_t size = static_cast<int64_t>(st.st_size);
  std::string data;
  if (offset < size) {
    data.resize(static_cast<size_t>(std::min(limit, size - offset)));
    size_t got = 0;
    while (got < data.size()) {
      ssize_t n =
          ::pread(file->get(), data.data() + got, data.size() - got, static_cast<off_t>(offset + got));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      got += static_cast<size_t>(n);
    }
    data.resize(got);
  }
  // Never cut a UTF-8 character in two: the next slice starts with it whole.
  if (offset + static_cast<int64_t>(data.size()) < size) {
    data.resize(data.size() - services::incomplete_utf8_suffix(data));
  }
  const int64_t next = offset + static_cast<int64_t>(data.size());
  return json::object{{"execution_id", execution_id},
                      {"step_id", step_id},
                      {"stream", stream},
                      {"offset", offset},
                      {"bytes", static_cast<int64_t>(data.size())},
                      {"next_offset", next},
                      {"size", size},
                      {"complete", !running},
                      {"eof", next >= size},
                      {"data", services::sanitize_utf8(data)}};
}

}  // namespace isb
