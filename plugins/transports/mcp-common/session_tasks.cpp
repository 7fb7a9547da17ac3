// session_tasks.cpp: tasks/get, tasks/result, tasks/cancel, tasks/list and the
// watcher that follows a task's execution.
#include "session_tasks.hpp"

#include <algorithm>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <chrono>
#include <ctime>
#include <random>

#include "event_forwarder.hpp"
#include "json_rpc.hpp"
#include "tool_catalog.hpp"
#include "tool_result.hpp"

namespace json = boost::json;

namespace isb::mcp {

namespace {

// Cursors are opaque to clients; this one is the offset of the next page.
constexpr std::string_view kCursorPrefix = "tasks-offset:";
// How long one wait_execution of a watcher waits (its maximum).
constexpr int64_t kWatchWaitS = 50;
// The key of CreateTaskResult._meta whose text a host may hand the model
// while the task runs (MCP 2025-11-25, tasks).
constexpr const char* kImmediateResponseMeta = "io.modelcontextprotocol/model-immediate-response";

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// RFC 3339 UTC with milliseconds.
std::string iso_time(int64_t ms) {
  std::time_t s = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&s, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms % 1000));
  return buf;
}

// 128 random bits as hex: a task id nobody can guess.
std::string random_task_id() {
  static thread_local std::random_device rd;
  static const char* kHex = "0123456789abcdef";
  std::string id;
  for (int i = 0; i < 4; ++i) {
    uint32_t v = rd();
    for (int j = 0; j < 8; ++j) id.push_back(kHex[(v >> (4 * j)) & 15]);
  }
  return id;
}

bool is_terminal(const std::string& status) {
  return status == "completed" || status == "failed" || status == "cancelled";
}

std::string related_task_meta(const std::string& task_id) {
  return json::serialize(json::object{{kRelatedTaskMeta, json::object{{"taskId", task_id}}}});
}

// "code: message" of an error document from the host.
std::string error_text(const std::string& doc_json) {
  boost::system::error_code ec;
  json::value doc = json::parse(doc_json, ec);
  if (!ec && doc.is_object()) {
    if (auto* err = doc.as_object().if_contains("error"); err && err->is_object()) {
      const json::object& e = err->as_object();
      std::string code =
          e.contains("code") && e.at("code").is_string() ? std::string(e.at("code").as_string()) : "";
      std::string message = e.contains("message") && e.at("message").is_string()
                                ? std::string(e.at("message").as_string())
                                : "";
      return code.empty() ? message : code + ": " + message;
    }
  }
  return "the operation failed";
}

std::string member_string(const json::object& o, const char* key) {
  auto* v = o.if_contains(key);
  return v && v->is_string() ? std::string(v->as_string()) : "";
}

}  // namespace

SessionTasks::SessionTasks(Hooks hooks) : hooks_(std::move(hooks)) {}

SessionTasks::~SessionTasks() { shutdown(); }

void SessionTasks::shutdown() {
  stopping_ = true;
  std::vector<std::thread> watchers;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& t : tasks_) {
      if (t->watcher.joinable()) watchers.push_back(std::move(t->watcher));
    }
  }
  changed_.notify_all();
  for (auto& w : watchers) w.join();
}

std::shared_ptr<SessionTasks::Task> SessionTasks::find_locked(const std::string& task_id) {
  for (auto& t : tasks_) {
    if (t->id == task_id) return t;
  }
  return nullptr;
}

void SessionTasks::purge_locked(int64_t now, std::vector<std::thread>& to_join) {
  for (auto it = tasks_.begin(); it != tasks_.end();) {
    Task& t = **it;
    const bool watching = t.watcher.joinable() && !t.execution_ended && t.failure_json.empty();
    if (is_terminal(t.status) && !watching && now - t.created_at > t.ttl_ms) {
      if (t.watcher.joinable()) to_join.push_back(std::move(t.watcher));
      it = tasks_.erase(it);
    } else {
      ++it;
    }
  }
}

json::object SessionTasks::describe_locked(const Task& t) const {
  json::object o{{"taskId", t.id},
                 {"status", t.status},
                 {"createdAt", iso_time(t.created_at)},
                 {"lastUpdatedAt", iso_time(t.updated_at)},
                 {"ttl", t.ttl_ms}};
  if (!t.status_message.empty()) o["statusMessage"] = t.status_message;
  if (!is_terminal(t.status)) o["pollInterval"] = kPollIntervalMs;
  return o;
}

bool SessionTasks::set_status_locked(Task& t, const std::string& status, const std::string& message) {
  if (is_terminal(t.status)) return false;  // a terminal status never changes
  t.status = status;
  t.status_message = message;
  t.updated_at = now_ms();
  return true;
}

void SessionTasks::notify_status(const Task& t) {
  json::object params;
  {
    std::lock_guard<std::mutex> lock(mu_);
    params = describe_locked(t);
  }
  hooks_.notify(make_notification("notifications/tasks/status", std::move(params)));
}

SessionTasks::Reply SessionTasks::create(const std::string& tool, json::object args,
                                         std::optional<json::value> progress_token,
                                         std::optional<int64_t> ttl_ms, const isb::sdk::RequestContext& ctx,
                                         std::function<bool()> cancelled, std::function<bool()> detached) {
  std::vector<std::thread> finished;
  {
    std::lock_guard<std::mutex> lock(mu_);
    purge_locked(now_ms(), finished);
    if (tasks_.size() >= kMaxTasks) {
      for (auto& w : finished) w.join();
      return Reply::error(kInternalError,
                          "this session holds " + std::to_string(kMaxTasks) +
                              " tasks, the most it keeps; ended tasks are dropped ttl after their "
                              "creation, so retry later with a shorter task.ttl, or call the tool "
                              "without a task");
    }
  }
  for (auto& w : finished) w.join();

  // The execution starts in the background; the call returns at once.
  args["wait"] = false;
  auto r = hooks_.host.call_operation(tool, json::serialize(args), ctx, {}, std::move(cancelled),
                                      std::move(detached));
  auto task = std::make_shared<Task>();
  task->id = random_task_id();
  task->created_at = task->updated_at = now_ms();
  task->ttl_ms = std::clamp<int64_t>(ttl_ms.value_or(kDefaultTtlMs), 1000, kMaxTtlMs);
  task->status = "working";
  json::object since;
  std::string immediate;
  if (r.status != ISB_OK) {
    task->status = "failed";
    task->status_message = error_text(r.json);
    task->failure_json = tool_result_json(r, false, related_task_meta(task->id));
    immediate = tool + " failed: " + task->status_message;
  } else {
    boost::system::error_code ec;
    json::value doc = json::parse(r.json, ec);
    const json::object empty;
    const json::object& d = !ec && doc.is_object() ? doc.as_object() : empty;
    task->execution_id = member_string(d, "execution_id");
    const std::string status = member_string(d, "status");
    if (status == "running") {
      task->status_message = "execution " + task->execution_id + ": " + member_string(d, "message");
      if (auto* s = d.if_contains("since"); s && s->is_object()) since = s->as_object();
      immediate = "Started in the background as execution " + task->execution_id +
                  "; this task follows it (wait_execution with that id does too).";
    } else {
      // It ended before the call returned.
      task->execution_ended = true;
      task->status = status == "cancelled" ? "cancelled" : "completed";
      task->status_message = "execution " + task->execution_id + " ended: " + status;
      immediate = "Execution " + task->execution_id + " ended: " + status + ".";
    }
  }
  json::object created;
  {
    std::lock_guard<std::mutex> lock(mu_);
    tasks_.push_back(task);
    created = describe_locked(*task);
    if (task->status == "working" && !stopping_) {
      task->watcher = std::thread([this, task, since = std::move(since), token = std::move(progress_token),
                                   ctx] { watch(task, since, token, ctx); });
    }
  }
  json::object result{{"task", std::move(created)},
                      {"_meta", json::object{{kImmediateResponseMeta, immediate}}}};
  return Reply::ok(json::serialize(result));
}

void SessionTasks::watch(std::shared_ptr<Task> task, json::object since, std::optional<json::value> token,
                         isb::sdk::RequestContext ctx) {
  std::string seen_message;
  EventForwarder forward(*hooks_.min_log_rank, std::move(token), task->id,
                         [this](json::object n) { hooks_.notify(std::move(n)); });
  auto on_event = [&](std::string_view event) {
    forward(event);
    // tasks/get shows what the execution does now.
    std::string m = forward.last_progress_message();
    if (m.empty() || m == seen_message) return;
    seen_message = m;
    std::lock_guard<std::mutex> lock(mu_);
    if (!is_terminal(task->status)) task->status_message = "execution " + task->execution_id + ": " + m;
  };
  auto stop = [this] { return stopping_.load(); };
  ctx.request_id = "task:" + task->id;
  while (!stopping_) {
    json::object args{{"execution_id", task->execution_id}, {"timeout_s", kWatchWaitS}, {"since", since}};
    auto r = hooks_.host.call_operation(kWaitExecutionOp, json::serialize(args), ctx, on_event, stop, stop);
    if (stopping_) return;  // the session ends; the execution goes on
    boost::system::error_code ec;
    json::value doc = r.status == ISB_OK ? json::parse(r.json, ec) : json::value();
    if (r.status != ISB_OK || ec || !doc.is_object()) {
      bool changed = false;
      {
        std::lock_guard<std::mutex> lock(mu_);
        task->failure_json = tool_result_json(r, false, related_task_meta(task->id));
        changed = set_status_locked(
            *task, "failed", "following execution " + task->execution_id + " failed: " + error_text(r.json));
      }
      changed_.notify_all();
      if (changed) notify_status(*task);
      return;
    }
    const json::object& d = doc.as_object();
    const std::string status = member_string(d, "status");
    if (status == "running") {
      if (auto* s = d.if_contains("since"); s && s->is_object()) since = s->as_object();
      continue;
    }
    bool changed = false;
    {
      std::lock_guard<std::mutex> lock(mu_);
      task->execution_ended = true;
      changed = set_status_locked(*task, status == "cancelled" ? "cancelled" : "completed",
                                  "execution " + task->execution_id + " ended: " + status);
    }
    changed_.notify_all();
    if (changed) notify_status(*task);
    return;
  }
}

SessionTasks::Reply SessionTasks::get(const std::string& task_id) {
  std::vector<std::thread> finished;
  Reply reply;
  {
    std::lock_guard<std::mutex> lock(mu_);
    purge_locked(now_ms(), finished);
    auto t = find_locked(task_id);
    if (!t) {
      reply = Reply::error(kInvalidParams, "Failed to retrieve task: task '" + task_id +
                                               "' not found (tasks live with their session, and end ttl "
                                               "after their creation once they ended)");
    } else {
      reply.result_json = json::serialize(describe_locked(*t));
    }
  }
  for (auto& w : finished) w.join();
  return reply;
}

SessionTasks::Reply SessionTasks::result(const std::string& task_id, const isb::sdk::RequestContext& ctx,
                                         const std::function<bool()>& stop_waiting) {
  std::shared_ptr<Task> t;
  std::string execution_id, failure;
  {
    std::unique_lock<std::mutex> lock(mu_);
    t = find_locked(task_id);
    if (!t) {
      return Reply::error(kInvalidParams, "Failed to retrieve task: task '" + task_id +
                                              "' not found (tasks live with their session, and end ttl after "
                                              "their creation once they ended)");
    }
    auto ready = [&] {
      return is_terminal(t->status) &&
             (t->execution_ended || !t->failure_json.empty() || t->execution_id.empty());
    };
    while (!ready()) {
      if (stopping_ || (stop_waiting && stop_waiting())) {
        return Reply::error(kInternalError, "tasks/result stopped waiting for task '" + task_id +
                                                "': the request was cancelled or the session ended");
      }
      changed_.wait_for(lock, std::chrono::milliseconds(200));
    }
    execution_id = t->execution_id;
    failure = t->failure_json;
  }
  if (!failure.empty()) return Reply::ok(failure);
  // What the tools/call would have returned: the ended execution's result.
  json::object args{{"execution_id", execution_id}, {"timeout_s", 0}};
  auto r = hooks_.host.call_operation(kWaitExecutionOp, json::serialize(args), ctx);
  return Reply::ok(
      tool_result_json(r, hooks_.resource_links && hooks_.resource_links(), related_task_meta(task_id)));
}

SessionTasks::Reply SessionTasks::cancel(const std::string& task_id, const isb::sdk::RequestContext& ctx) {
  std::string execution_id;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto t = find_locked(task_id);
    if (!t) {
      return Reply::error(kInvalidParams, "Failed to cancel task: task '" + task_id + "' not found");
    }
    if (is_terminal(t->status)) {
      return Reply::error(kInvalidParams,
                          "Cannot cancel task: already in terminal status '" + t->status + "'");
    }
    execution_id = t->execution_id;
  }
  std::string note;
  if (!execution_id.empty()) {
    auto r = hooks_.host.call_operation(kCancelExecutionOp,
                                        json::serialize(json::object{{"execution_id", execution_id}}), ctx);
    if (r.status != ISB_OK) note = " (" + error_text(r.json) + ")";
  }
  std::shared_ptr<Task> t;
  Reply reply;
  {
    std::lock_guard<std::mutex> lock(mu_);
    t = find_locked(task_id);
    if (!t) return Reply::error(kInvalidParams, "Failed to cancel task: task '" + task_id + "' not found");
    if (!set_status_locked(*t, "cancelled",
                           "cancelled by tasks/cancel; execution " + execution_id + " stops" + note)) {
      return Reply::error(kInvalidParams,
                          "Cannot cancel task: already in terminal status '" + t->status + "'");
    }
    reply.result_json = json::serialize(describe_locked(*t));
  }
  changed_.notify_all();
  notify_status(*t);
  return reply;
}

SessionTasks::Reply SessionTasks::list(const json::value* cursor) {
  std::vector<std::thread> finished;
  Reply reply;
  {
    std::lock_guard<std::mutex> lock(mu_);
    purge_locked(now_ms(), finished);
    size_t offset = 0;
    if (cursor && !cursor->is_null()) {
      bool ok = cursor->is_string() && cursor->as_string().size() > kCursorPrefix.size() &&
                std::string_view(cursor->as_string()).substr(0, kCursorPrefix.size()) == kCursorPrefix;
      if (ok) {
        std::string_view digits = std::string_view(cursor->as_string()).substr(kCursorPrefix.size());
        ok = digits.size() <= 6 && digits.find_first_not_of("0123456789") == std::string_view::npos;
        if (ok) offset = std::stoul(std::string(digits));
        ok = ok && offset > 0 && offset < tasks_.size();
      }
      if (!ok) {
        reply =
            Reply::error(kInvalidParams, "Invalid params: unknown cursor " + json::serialize(*cursor) +
                                             "; pass the nextCursor of the previous tasks/list page, or no "
                                             "cursor for the first page");
      }
    }
    if (reply.error_code == 0) {
      json::array page;
      const size_t end = std::min(tasks_.size(), offset + kPageSize);
      for (size_t i = offset; i < end; ++i) page.push_back(describe_locked(*tasks_[i]));
      json::object result{{"tasks", std::move(page)}};
      if (end < tasks_.size()) result["nextCursor"] = std::string(kCursorPrefix) + std::to_string(end);
      reply.result_json = json::serialize(result);
    }
  }
  for (auto& w : finished) w.join();
  return reply;
}

}  // namespace isb::mcp
