// execution_service.cpp: plan and command execution with recorded history.
#include <isb/core/execution_service.hpp>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <spdlog/spdlog.h>

#include <random>

namespace json = boost::json;

namespace isb {

namespace {

std::string new_execution_id() {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  static const char* kHex = "0123456789abcdef";
  std::string s = "exec-";
  for (int i = 0; i < 12; ++i) s += kHex[rng() % 16];
  return s;
}

json::value opt(const std::optional<int64_t>& v) { return v ? json::value(*v) : json::value(nullptr); }

std::optional<int64_t> opt_int(const json::object& o, const char* key) {
  auto* v = o.if_contains(key);
  if (!v) return std::nullopt;
  if (v->is_int64()) return v->as_int64();
  if (v->is_uint64()) return static_cast<int64_t>(v->as_uint64());
  return std::nullopt;
}

bool get_bool(const json::object& o, const char* key) {
  auto* v = o.if_contains(key);
  return v && v->is_bool() && v->as_bool();
}

std::string get_str(const json::object& o, const char* key, const std::string& fallback = "") {
  auto* v = o.if_contains(key);
  return v && v->is_string() ? std::string(v->as_string()) : fallback;
}

// Keeps the last `limit` bytes: the end of a log says why a command failed.
std::string tail(const std::string& s, size_t limit) {
  return s.size() <= limit ? s : s.substr(s.size() - limit);
}

// Output is stored as text; invalid UTF-8 bytes would make the JSON invalid.
std::string sanitize_utf8(const std::string& in) {
  std::string out;
  out.reserve(in.size());
  size_t i = 0;
  while (i < in.size()) {
    unsigned char c = static_cast<unsigned char>(in[i]);
    size_t len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
    bool ok = len > 0 && i + len <= in.size();
    for (size_t k = 1; ok && k < len; ++k) ok = (static_cast<unsigned char>(in[i + k]) >> 6) == 0x2;
    if (ok) {
      out.append(in, i, len);
      i += len;
    } else {
      out += "\xEF\xBF\xBD";  // U+FFFD
      ++i;
    }
  }
  return out;
}

constexpr size_t kHistoryTail = 4096;

}  // namespace

ExecutionService::ExecutionService(const Config& config, Store& store, WorkspaceService& workspaces, PlanService& plans)
    : config_(config), store_(store), workspaces_(workspaces), plans_(plans) {}

ExecutionService::StepOutcome ExecutionService::run_step(const WorkspaceRecord& w, const std::string& execution_id,
                                                         int64_t seq, const json::object& step, CallContext& ctx) {
  StepOutcome out;
  StepRecord& r = out.record;
  r.execution_id = execution_id;
  r.seq = seq;
  r.step_id = get_str(step, "id", "step-" + std::to_string(seq));
  r.title = get_str(step, "title", r.step_id);
  r.cwd = get_str(step, "cwd", ".");
  json::object command;
  if (auto* a = step.if_contains("argv")) command["argv"] = *a;
  if (auto* s = step.if_contains("shell")) command["shell"] = *s;
  r.command_json = json::serialize(command);

  int64_t timeout_s = config_.performance.operation_timeout;
  if (auto t = opt_int(step, "timeout_s"); t && *t > 0) timeout_s = *t;
  const int64_t cap = config_.performance.max_output_bytes;
  json::object spec = command;
  spec["cwd"] = r.cwd;
  spec["timeout_ms"] = timeout_s * 1000;
  spec["max_output_bytes"] = cap;
  if (auto* env = step.if_contains("env"); env && env->is_object()) spec["env"] = *env;

  std::string out_buf, err_buf;
  bool truncated = false;
  auto on_output = [&](int32_t stream, const char* bytes, size_t len) {
    std::string& buf = stream == ISB_STREAM_STDERR ? err_buf : out_buf;
    size_t room = static_cast<size_t>(cap) > buf.size() ? static_cast<size_t>(cap) - buf.size() : 0;
    if (len > room) truncated = true;
    buf.append(bytes, std::min(len, room));
    ctx.output(stream, sanitize_utf8(std::string(bytes, len)));
  };
  r.started_at = now_ms();
  auto result = workspaces_.isolation().exec(w.sandbox_id, spec, on_output, [&ctx] { return ctx.cancelled(); });
  r.finished_at = now_ms();
  r.stdout_text = sanitize_utf8(out_buf);
  r.stderr_text = sanitize_utf8(err_buf);
  if (!result) {
    // The backend could not run the command at all: record why, as a failure.
    r.status = "failed";
    r.duration_ms = r.finished_at - r.started_at;
    r.stderr_text += (r.stderr_text.empty() ? "" : "\n") + std::string("[sandbox] ") + result.error().message;
    out.result = json::object{{"error", result.error().message}};
    r.result_json = json::serialize(out.result);
    return out;
  }
  out.result = result->is_object() ? result->as_object() : json::object{};
  const json::object& res = out.result;
  r.exit_code = opt_int(res, "exit_code");
  r.signal = opt_int(res, "signal");
  r.timed_out = get_bool(res, "timed_out");
  r.output_truncated = truncated || get_bool(res, "output_truncated");
  r.duration_ms = opt_int(res, "duration_ms").value_or(r.finished_at - r.started_at);
  if (auto e = get_str(res, "error"); !e.empty()) {
    r.stderr_text += (r.stderr_text.empty() ? "" : "\n") + std::string("[sandbox] ") + e;
  }
  if (get_bool(res, "cancelled")) {
    r.status = "cancelled";
  } else if (r.timed_out) {
    r.status = "timed_out";
  } else {
    r.status = r.exit_code && *r.exit_code == 0 ? "succeeded" : "failed";
  }
  r.result_json = json::serialize(res);
  return out;
}

json::object ExecutionService::describe_step(const StepRecord& s, bool full_output) const {
  boost::system::error_code ec;
  json::value command = json::parse(s.command_json, ec);
  if (ec) command = json::object{};
  json::value usage = nullptr;
  if (auto res = json::parse(s.result_json, ec); !ec && res.is_object()) {
    if (auto* u = res.as_object().if_contains("usage")) usage = *u;
  }
  json::object o{{"step_id", s.step_id},
                 {"title", s.title},
                 {"command", command},
                 {"cwd", s.cwd},
                 {"status", s.status},
                 {"exit_code", opt(s.exit_code)},
                 {"signal", opt(s.signal)},
                 {"timed_out", s.timed_out},
                 {"duration_ms", s.duration_ms},
                 {"output_truncated", s.output_truncated},
                 {"started_at", format_time(s.started_at)},
                 {"finished_at", format_time(s.finished_at)},
                 {"usage", usage}};
  if (full_output) {
    o["stdout"] = s.stdout_text;
    o["stderr"] = s.stderr_text;
  } else {
    o["stdout_tail"] = tail(s.stdout_text, kHistoryTail);
    o["stderr_tail"] = tail(s.stderr_text, kHistoryTail);
  }
  return o;
}

Result<json::object> ExecutionService::execute_plan(const std::string& plan_id, CallContext& ctx) {
  auto plan = plans_.get(plan_id);
  if (!plan) return plan.error();
  if (plan->status == "pending_approval") {
    return make_error(ErrorCode::kFailedPrecondition, "plan '" + plan_id +
                                                          "' must be approved before it can be executed: review its "
                                                          "steps, then call approve_plan (or create it with "
                                                          "auto_approve=true)");
  }
  if (plan->status == "rejected") {
    return make_error(ErrorCode::kFailedPrecondition, "plan '" + plan_id + "' was rejected; create a new plan");
  }
  auto w = workspaces_.get_active(plan->workspace_id);
  if (!w) return w.error();
  {
    std::lock_guard<std::mutex> lock(running_mu_);
    if (!running_plans_.insert(plan_id).second) {
      return make_error(ErrorCode::kFailedPrecondition, "plan '" + plan_id + "' is already executing");
    }
  }
  struct Release {
    ExecutionService* self;
    std::string id;
    ~Release() {
      std::lock_guard<std::mutex> lock(self->running_mu_);
      self->running_plans_.erase(id);
    }
  } release{this, plan_id};

  json::array steps = plans_.describe(*plan).at("steps").as_array();
  ExecutionRecord e;
  e.id = new_execution_id();
  e.workspace_id = w->id;
  e.plan_id = plan_id;
  e.kind = "plan";
  e.status = "running";
  e.started_at = now_ms();
  if (auto st = store_.insert_execution(e); !st) return st.error();
  (void)plans_.set_status(plan_id, "executing");
  workspaces_.touch(w->id);

  json::array step_results;
  std::string status = "succeeded";
  std::optional<int64_t> exit_code = 0;
  const double total = static_cast<double>(steps.size());
  for (size_t i = 0; i < steps.size(); ++i) {
    const json::object& step = steps[i].as_object();
    std::string title = get_str(step, "title", get_str(step, "id"));
    if (status != "succeeded") {
      StepRecord skipped;
      skipped.execution_id = e.id;
      skipped.seq = static_cast<int64_t>(i);
      skipped.step_id = get_str(step, "id");
      skipped.title = title;
      skipped.cwd = get_str(step, "cwd", ".");
      skipped.status = "skipped";
      skipped.started_at = skipped.finished_at = now_ms();
      (void)store_.insert_step(skipped);
      step_results.push_back(describe_step(skipped, false));
      continue;
    }
    ctx.progress(static_cast<double>(i), total, "step " + std::to_string(i + 1) + "/" + std::to_string(steps.size()) +
                                                   ": " + title);
    auto outcome = run_step(*w, e.id, static_cast<int64_t>(i), step, ctx);
    if (auto st = store_.insert_step(outcome.record); !st) spdlog::error("recording a step: {}", st.error().message);
    step_results.push_back(describe_step(outcome.record, false));
    if (outcome.record.status != "succeeded") {
      status = outcome.record.status == "cancelled" ? "cancelled" : "failed";
      exit_code = outcome.record.exit_code;
    }
  }
  ctx.progress(total, total, "plan " + status);
  const int64_t finished = now_ms();
  if (auto st = store_.finish_execution(e.id, status, exit_code, finished); !st) return st.error();
  (void)plans_.set_status(plan_id, status == "succeeded" ? "completed" : "failed");
  return json::object{{"execution_id", e.id},
                      {"plan_id", plan_id},
                      {"workspace_id", w->id},
                      {"status", status},
                      {"exit_code", opt(exit_code)},
                      {"started_at", format_time(e.started_at)},
                      {"finished_at", format_time(finished)},
                      {"duration_ms", finished - e.started_at},
                      {"steps", step_results}};
}

Result<json::object> ExecutionService::exec_command(const std::string& workspace_id, const std::string& command,
                                                    int64_t timeout_s, CallContext& ctx) {
  if (command.find_first_not_of(" \t\r\n") == std::string::npos) {
    return make_error(ErrorCode::kInvalidArgument, "command is empty; give a shell command line such as \"ls -la\"");
  }
  auto w = workspaces_.get_active(workspace_id);
  if (!w) return w.error();
  workspaces_.touch(workspace_id);
  ExecutionRecord e;
  e.id = new_execution_id();
  e.workspace_id = workspace_id;
  e.kind = "command";
  e.status = "running";
  e.started_at = now_ms();
  if (auto st = store_.insert_execution(e); !st) return st.error();
  // The title is for people scanning history; the full command stays in "command".
  std::string title = command.size() > 120 ? command.substr(0, 117) + "..." : command;
  json::object step{{"id", "command"}, {"title", title}, {"shell", command}, {"cwd", "."}};
  if (timeout_s > 0) step["timeout_s"] = timeout_s;
  auto outcome = run_step(*w, e.id, 0, step, ctx);
  if (auto st = store_.insert_step(outcome.record); !st) spdlog::error("recording a step: {}", st.error().message);
  const StepRecord& r = outcome.record;
  std::string status = r.status == "succeeded" ? "succeeded" : r.status == "cancelled" ? "cancelled" : "failed";
  if (auto st = store_.finish_execution(e.id, status, r.exit_code, r.finished_at); !st) return st.error();
  json::object out = describe_step(r, true);
  out["execution_id"] = e.id;
  out["workspace_id"] = workspace_id;
  return out;
}

Result<json::object> ExecutionService::history(const std::string& workspace_id, const std::string& plan_id,
                                               int64_t limit) {
  auto w = workspaces_.get_any(workspace_id);
  if (!w) return w.error();
  ExecutionQuery q;
  q.workspace_id = workspace_id;
  q.plan_id = plan_id;
  q.limit = limit > 0 ? std::min<int64_t>(limit, 500) : 50;
  auto rows = store_.list_executions(q);
  if (!rows) return rows.error();
  json::array items;
  for (const auto& e : *rows) {
    json::array steps;
    for (const auto& s : e.steps) steps.push_back(describe_step(s, false));
    items.push_back(json::object{{"execution_id", e.id},
                                 {"kind", e.kind},
                                 {"plan_id", e.plan_id.empty() ? json::value(nullptr) : json::value(e.plan_id)},
                                 {"status", e.status},
                                 {"exit_code", opt(e.exit_code)},
                                 {"started_at", format_time(e.started_at)},
                                 {"finished_at", format_time(e.finished_at)},
                                 {"duration_ms", e.finished_at ? e.finished_at - e.started_at : 0},
                                 {"steps", steps}});
  }
  return json::object{{"workspace_id", workspace_id},
                      {"workspace_status", w->status},
                      {"count", static_cast<int64_t>(items.size())},
                      {"executions", items}};
}

}  // namespace isb
