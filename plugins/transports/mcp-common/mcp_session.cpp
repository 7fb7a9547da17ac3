// mcp_session.cpp: the MCP methods on top of the host's operation registry.
// Resources are served by two operations of the core, list_resources and
// read_resource (core/src/operations/resource_operations.cpp), so that the
// URI scheme and the confinement of workspace files live in one place.
#include "mcp_session.hpp"

#include <algorithm>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "event_forwarder.hpp"
#include "json_rpc.hpp"
#include "tool_result.hpp"

namespace json = boost::json;

namespace isb::mcp {

namespace {

constexpr const char* kLogLevels[] = {"debug", "info",     "notice", "warning",
                                      "error", "critical", "alert",  "emergency"};

// Cursors are opaque to clients; this one is the offset of the next page.
constexpr std::string_view kCursorPrefix = "tools-offset:";

// JSON-RPC error for a resource that does not exist (MCP resources spec).
constexpr int kResourceNotFound = -32002;

// Revisions that know content items of type resource_link.
bool knows_resource_links(std::string_view version) { return version >= "2025-06-18"; }

// Revisions that know tasks (experimental in 2025-11-25).
bool knows_tasks(std::string_view version) { return version >= "2025-11-25"; }

}  // namespace

bool is_supported_version(std::string_view version) {
  for (const char* v : kSupportedVersions) {
    if (version == v) return true;
  }
  return false;
}

int log_level_rank(std::string_view level) {
  for (int i = 0; i < 8; ++i) {
    if (level == kLogLevels[i]) return i;
  }
  return -1;
}

McpSession::McpSession(isb::sdk::Host host, std::string transport_id, Writer writer, SessionOptions options,
                       std::string client_id)
    : host_(host),
      transport_id_(std::move(transport_id)),
      client_id_(client_id.empty() ? transport_id_ : std::move(client_id)),
      writer_(std::move(writer)),
      options_(std::move(options)),
      roots_(host_, client_id_ == transport_id_ ? transport_id_ : transport_id_ + " session " + client_id_.substr(0, 8),
             [this](const json::object& request) { send(request, Origin{}, false); }),
      tasks_(SessionTasks::Hooks{
          .host = host,
          .notify = [this](json::object n) { send(n, Origin{}, false); },
          .min_log_rank = &min_log_rank_,
          .resource_links = [this] { return links_supported_.load(); },
      }) {
  if (options_.tools_page_size == 0) options_.tools_page_size = 1;
  if (!options_.pool) options_.pool = std::make_shared<CallPool>(CallPool::Options{});
  if (!options_.catalog) options_.catalog = std::make_shared<ToolCatalog>();
}

std::string McpSession::protocol_version() const {
  std::lock_guard<std::mutex> lock(state_mu_);
  return protocol_version_;
}

McpSession::~McpSession() { shutdown(); }

size_t McpSession::in_flight() const {
  std::lock_guard<std::mutex> lock(calls_mu_);
  return running_;
}

void McpSession::send_text(std::string text, const Origin& origin, bool is_response) {
  try {
    if (origin.writer) {
      if (origin.writer(Outgoing{is_response ? std::move(text) : text, is_response})) return;
      // The request's stream is gone: a response has nowhere left to go, but
      // notifications still reach the client on the session's own stream.
      if (is_response) return;
    }
    writer_(Outgoing{std::move(text), is_response});
  } catch (const std::exception& e) {
    host_.warn(std::string("could not send a message: ") + e.what());
  }
}

void McpSession::send(const json::object& message, const Origin& origin, bool is_response) {
  send_text(json::serialize(message), origin, is_response);
}

void McpSession::shutdown() {
  shutting_down_ = true;
  {
    // The client is gone, which is not a request to stop the work it started:
    // detached first, so that a host seeing cancelled can tell (plugin_abi.h).
    std::lock_guard<std::mutex> lock(calls_mu_);
    for (auto& [_, call] : calls_) {
      call->detached = true;
      call->cancelled = true;
    }
  }
  tasks_.shutdown();
  roots_.close();
  std::unique_lock<std::mutex> lock(calls_mu_);
  calls_done_.wait(lock, [this] { return running_ == 0; });
}

int McpSession::handle_text(std::string_view text, const Origin& origin) {
  boost::system::error_code ec;
  json::value msg = json::parse(text, ec);
  if (ec) {
    send(make_error(nullptr, kParseError, "Parse error: " + ec.message()), origin, true);
    return 1;
  }
  if (msg.is_array()) {
    send(make_error(nullptr, kInvalidRequest,
                    "Invalid Request: JSON-RPC batches are not supported; send one message "
                    "per line"),
         origin, true);
    return 1;
  }
  if (!msg.is_object()) {
    send(make_error(nullptr, kInvalidRequest, "Invalid Request: a message must be a JSON object"), origin,
         true);
    return 1;
  }
  json::object& o = msg.as_object();
  json::value* id = o.if_contains("id");
  const json::value* version = o.if_contains("jsonrpc");
  const json::value* method = o.if_contains("method");
  bool id_ok = id && (id->is_string() || id->is_int64() || id->is_uint64());
  json::value reply_id = id_ok ? *id : json::value(nullptr);
  if (!version || !version->is_string() || version->as_string() != "2.0") {
    send(make_error(reply_id, kInvalidRequest, "Invalid Request: \"jsonrpc\" must be \"2.0\""), origin, true);
    return 1;
  }
  if (!method) {
    // A response (to roots/list, or to a request we never sent): no reply.
    if (o.contains("result") || o.contains("error")) {
      roots_.on_response(o);
      return 0;
    }
    send(make_error(reply_id, kInvalidRequest, "Invalid Request: \"method\" is missing"), origin, true);
    return 1;
  }
  if (!method->is_string()) {
    send(make_error(reply_id, kInvalidRequest, "Invalid Request: \"method\" must be a string"), origin, true);
    return 1;
  }
  json::value* params_v = o.if_contains("params");
  if (params_v && !params_v->is_object()) {
    if (!id) return 0;
    send(make_error(reply_id, kInvalidParams, "Invalid params: \"params\" must be an object"), origin, true);
    return 1;
  }
  // The parsed message is ours: its params move on instead of being copied.
  json::object params = params_v ? std::move(params_v->as_object()) : json::object{};
  std::string m(method->as_string());
  if (!id) {
    handle_notification(m, params);
    return 0;
  }
  if (!id_ok) {
    send(make_error(nullptr, kInvalidRequest, "Invalid Request: \"id\" must be a string or an integer"),
         origin, true);
    return 1;
  }
  handle_request(std::move(*id), m, std::move(params), origin);
  return 1;
}

void McpSession::handle_notification(const std::string& method, const json::object& params) {
  if (method == "notifications/initialized") {
    initialized_ = true;
    roots_.request();
  } else if (method == "notifications/roots/list_changed") {
    roots_.request();
  } else if (method == "notifications/cancelled") {
    const json::value* rid = params.if_contains("requestId");
    if (!rid) return;
    std::lock_guard<std::mutex> lock(calls_mu_);
    if (auto it = calls_.find(id_key(*rid)); it != calls_.end()) it->second->cancelled = true;
  }
  // Other notifications need no action; notifications are never answered.
}

json::object McpSession::initialize(const json::object& params) {
  std::string requested;
  if (auto* v = params.if_contains("protocolVersion"); v && v->is_string())
    requested = std::string(v->as_string());
  std::string chosen = is_supported_version(requested) ? requested : kSupportedVersions[0];
  {
    std::lock_guard<std::mutex> lock(state_mu_);
    protocol_version_ = chosen;
  }
  links_supported_ = knows_resource_links(chosen);
  const json::value* caps = params.if_contains("capabilities");
  const json::value* roots = caps && caps->is_object() ? caps->as_object().if_contains("roots") : nullptr;
  roots_.set_offered(roots && roots->is_object());
  std::string version = "0.0.0";
  boost::system::error_code ec;
  json::value info = json::parse(host_.host_info(), ec);
  if (!ec && info.is_object()) {
    if (auto* v = info.as_object().if_contains("version"); v && v->is_string())
      version = std::string(v->as_string());
  }
  // Only what is implemented: tools (fixed list), logging (setLevel +
  // notifications/message) and, when the core offers them, resources (no
  // subscriptions: logs and files are read on demand). No prompts or
  // completions.
  const ToolCatalog::Tools* catalog = tools();
  json::object capabilities{{"tools", json::object{{"listChanged", false}}}, {"logging", json::object{}}};
  if (catalog && catalog->resources_available) {
    capabilities["resources"] = json::object{{"subscribe", false}, {"listChanged", false}};
  }
  // Tasks for tool calls that start executions, for clients that know them.
  tasks_enabled_ = catalog && catalog->tasks_available && knows_tasks(chosen);
  if (tasks_enabled_) {
    capabilities["tasks"] = json::object{{"list", json::object{}},
                                         {"cancel", json::object{}},
                                         {"requests", json::object{{"tools", json::object{{"call", json::object{}}}}}}};
  }
  json::object server_info{
      {"name", options_.server_name}, {"title", "Intelligent Sandbox"}, {"version", version}};
  if (!options_.server_description.empty()) server_info["description"] = options_.server_description;
  return json::object{
      {"protocolVersion", chosen},
      {"capabilities", std::move(capabilities)},
      {"serverInfo", std::move(server_info)},
      {"instructions",
       "Isolated, codebase-aware workspaces. Typical flow: create_workspace(source_path) -> analyze_codebase "
       "-> "
       "create_task_plan(task_description) -> approve_plan -> execute_task_plan -> get_execution_history -> "
       "destroy_workspace. exec_command runs a single shell command. Long work runs in the background: when "
       "exec_command or execute_task_plan returns status \"running\", call wait_execution(execution_id, since) "
       "until it returns the result. Full step logs and workspace files are "
       "resources: sandbox://executions/{execution_id}/steps/{step_id}/{stdout|stderr} and "
       "sandbox://workspaces/{workspace_id}/files/{path}."}};
}

const ToolCatalog::Tools* McpSession::tools() { return options_.catalog->get(host_); }

void McpSession::handle_request(json::value id, const std::string& method, json::object params,
                                const Origin& origin) {
  if (method == "tools/call") {
    start_tool_call(std::move(id), std::move(params), origin);
  } else if (method == "initialize") {
    send(make_result(id, initialize(params)), origin, true);
  } else if (method == "ping") {
    send(make_result(id, json::object{}), origin, true);
  } else if (method == "tools/list") {
    list_tools(id, params, origin);
  } else if (method == "resources/list") {
    start_resource_request(std::move(id), Job::kListResources, std::move(params), origin);
  } else if (method == "resources/templates/list") {
    start_resource_request(std::move(id), Job::kListTemplates, std::move(params), origin);
  } else if (method == "resources/read") {
    start_resource_request(std::move(id), Job::kReadResource, std::move(params), origin);
  } else if (method == "logging/setLevel") {
    set_log_level(id, params, origin);
  } else if (tasks_enabled_ && method == "tasks/get") {
    start_task_request(std::move(id), TaskMethod::kGet, std::move(params), origin);
  } else if (tasks_enabled_ && method == "tasks/result") {
    start_task_request(std::move(id), TaskMethod::kResult, std::move(params), origin);
  } else if (tasks_enabled_ && method == "tasks/cancel") {
    start_task_request(std::move(id), TaskMethod::kCancel, std::move(params), origin);
  } else if (tasks_enabled_ && method == "tasks/list") {
    start_task_request(std::move(id), TaskMethod::kList, std::move(params), origin);
  } else {
    send(make_error(id, kMethodNotFound,
                    "Method not found: " + method +
                        " (this server implements initialize, ping, tools/list, tools/call, resources/list, "
                        "resources/templates/list, resources/read, logging/setLevel" +
                        (tasks_enabled_ ? ", tasks/get, tasks/result, tasks/cancel, tasks/list"
                                        : "; tasks/* with protocol revision 2025-11-25") +
                        ")"),
         origin, true);
  }
}

void McpSession::list_tools(const json::value& id, const json::object& params, const Origin& origin) {
  const ToolCatalog::Tools* catalog = tools();
  if (!catalog) {
    send(make_error(id, kInternalError, "Internal error: the server could not list its tools"), origin, true);
    return;
  }
  const json::array* t = &catalog->list;
  size_t offset = 0;
  if (auto* c = params.if_contains("cursor"); c && !c->is_null()) {
    bool ok = c->is_string() && c->as_string().size() > kCursorPrefix.size() &&
              std::string_view(c->as_string()).substr(0, kCursorPrefix.size()) == kCursorPrefix;
    if (ok) {
      std::string_view digits = std::string_view(c->as_string()).substr(kCursorPrefix.size());
      ok = digits.size() <= 6 && digits.find_first_not_of("0123456789") == std::string_view::npos;
      if (ok) offset = std::stoul(std::string(digits));
      ok = ok && offset > 0 && offset < t->size() && offset % options_.tools_page_size == 0;
    }
    if (!ok) {
      send(make_error(
               id, kInvalidParams,
               "Invalid params: unknown cursor " + json::serialize(*c) +
                   "; pass the nextCursor of the previous tools/list page, or no cursor for the first page"),
           origin, true);
      return;
    }
  }
  json::array page;
  size_t end = std::min(t->size(), offset + options_.tools_page_size);
  const bool tasks = tasks_enabled_;
  for (size_t i = offset; i < end; ++i) {
    page.push_back((*t)[i]);
    json::object& tool = page.back().as_object();
    if (tasks && catalog->task_tools.count(std::string(tool.at("name").as_string()))) {
      tool["execution"] = json::object{{"taskSupport", "optional"}};
    }
  }
  json::object result{{"tools", std::move(page)}};
  if (end < t->size()) result["nextCursor"] = std::string(kCursorPrefix) + std::to_string(end);
  send(make_result(id, std::move(result)), origin, true);
}

void McpSession::set_log_level(const json::value& id, const json::object& params, const Origin& origin) {
  const json::value* level = params.if_contains("level");
  int rank = level && level->is_string() ? log_level_rank(level->as_string()) : -1;
  if (rank < 0) {
    send(make_error(
             id, kInvalidParams,
             "Invalid params: \"level\" must be one of debug, info, notice, warning, error, critical, alert, "
             "emergency"),
         origin, true);
    return;
  }
  min_log_rank_ = rank;
  send(make_result(id, json::object{}), origin, true);
}

void McpSession::enqueue(const json::value& id, CallPool::Lane lane,
                         std::function<void(std::shared_ptr<Call>)> work, const Origin& origin) {
  auto call = std::make_shared<Call>();
  std::string key = id_key(id);
  {
    std::lock_guard<std::mutex> lock(calls_mu_);
    if (shutting_down_) {
      send(make_error(id, kInternalError, "the server is shutting down"), origin, true);
      return;
    }
    // A reused id would overwrite the running call's entry, which then could
    // no longer be cancelled (nor by shutdown at end of input).
    if (calls_.count(key)) {
      send(make_error(id, kInvalidRequest,
                      "Invalid Request: id " + key + " is already used by a call in flight"),
           origin, true);
      return;
    }
    calls_.emplace(std::move(key), call);
    ++running_;
  }
  bool queued = options_.pool->submit(lane, [work = std::move(work), call] { work(call); });
  if (!queued) {
    send(make_error(id, kInternalError,
                    "Server busy: too many requests are waiting; retry when some of yours have finished"),
         origin, true);
    finish_call(id);
  }
}

void McpSession::finish_call(const json::value& id) {
  std::lock_guard<std::mutex> lock(calls_mu_);
  calls_.erase(id_key(id));
  --running_;
  calls_done_.notify_all();
}

void McpSession::start_tool_call(json::value id, json::object params, const Origin& origin) {
  const json::value* name = params.if_contains("name");
  if (!name || !name->is_string()) {
    send(make_error(id, kInvalidParams, "Invalid params: tools/call needs \"name\" (a string)"), origin,
         true);
    return;
  }
  std::string tool(name->as_string());
  const ToolCatalog::Tools* catalog = tools();
  if (!catalog) {
    send(make_error(id, kInternalError, "Internal error: the server could not list its tools"), origin, true);
    return;
  }
  auto it = catalog->quick.find(tool);
  if (it == catalog->quick.end()) {
    send(make_error(id, kInvalidParams, "Unknown tool: " + tool + " (tools/list shows the available tools)"),
         origin, true);
    return;
  }
  CallPool::Lane lane = it->second ? CallPool::Lane::kQuick : CallPool::Lane::kLong;
  json::value* args = params.if_contains("arguments");
  if (args && !args->is_object() && !args->is_null()) {
    send(make_error(id, kInvalidParams, "Invalid params: \"arguments\" must be an object"), origin, true);
    return;
  }
  std::optional<json::value> token;
  if (auto* meta = params.if_contains("_meta"); meta && meta->is_object()) {
    if (auto* t = meta->as_object().if_contains("progressToken"); t && (t->is_string() || t->is_number()))
      token = *t;
  }
  json::object a = args && args->is_object() ? std::move(args->as_object()) : json::object{};
  // A task-augmented call. Without negotiated tasks the field is ignored, as
  // the tasks spec requires of a receiver that did not declare them.
  if (const json::value* task = params.if_contains("task"); task && tasks_enabled_) {
    if (!task->is_object()) {
      send(make_error(id, kInvalidParams, "Invalid params: \"task\" must be an object ({\"ttl\": ms} or {})"),
           origin, true);
      return;
    }
    if (!catalog->task_tools.count(tool)) {
      send(make_error(id, kMethodNotFound,
                      "Method not found: tool " + tool +
                          " cannot run as a task (its execution.taskSupport is forbidden); call it without "
                          "\"task\""),
           origin, true);
      return;
    }
    std::optional<int64_t> ttl;
    if (auto* v = task->as_object().if_contains("ttl"); v && v->is_number()) {
      // Clamped as a double first: a huge number does not fit an int64.
      const double max = static_cast<double>(SessionTasks::kMaxTtlMs);
      ttl = static_cast<int64_t>(std::clamp(v->to_number<double>(), 0.0, max));
    }
    enqueue(
        id, CallPool::Lane::kLong,
        [this, id, tool = std::move(tool), a = std::move(a), token = std::move(token), ttl,
         origin](std::shared_ptr<Call> call) {
          if (call->cancelled) {
            send(make_error(id, kInternalError, "Request cancelled before it started"), origin, true);
          } else {
            auto reply = tasks_.create(tool, a, token, ttl, request_context(id, origin),
                                       [call] { return call->cancelled.load(); },
                                       [call] { return call->detached.load(); });
            send_task_reply(id, reply, origin);
          }
          finish_call(id);
        },
        origin);
    return;
  }
  enqueue(
      id, lane,
      [this, id, tool = std::move(tool), a = std::move(a), token = std::move(token),
       origin](std::shared_ptr<Call> call) {
        run_tool_call(id, tool, a, token, *call, origin);
        finish_call(id);
      },
      origin);
}

isb::sdk::RequestContext McpSession::request_context(const json::value& id, const Origin& origin) const {
  isb::sdk::RequestContext ctx;
  ctx.transport = transport_id_;
  ctx.client_id = client_id_;
  ctx.request_id = id_key(id);
  ctx.principal = origin.principal;
  ctx.credential = origin.credential;
  ctx.admitted = origin.admitted;
  ctx.client_address = origin.client_address;
  ctx.client_roots_json = roots_.for_call();
  return ctx;
}

void McpSession::run_tool_call(const json::value& id, const std::string& name, const json::object& args,
                               const std::optional<json::value>& progress_token, const Call& call,
                               const Origin& origin) {
  if (call.cancelled) {
    // Cancelled while it waited for a worker: it never started.
    send(make_error(id, kInternalError, "Request cancelled before it started"), origin, true);
    return;
  }
  EventForwarder forward(min_log_rank_, progress_token, "",
                         [&](json::object n) { send(n, origin, false); });
  auto on_event = [&](std::string_view event_text) {
    if (!call.cancelled) forward(event_text);
  };
  try {
    auto r = host_.call_operation(name, json::serialize(args), request_context(id, origin), on_event,
                                  [&call] { return call.cancelled.load(); },
                                  [&call] { return call.detached.load(); });
    // The result goes out as built, without parsing the document again (the
    // hot path of every call).
    std::string text;
    std::string result = tool_result_json(r, links_supported_.load());
    text.reserve(result.size() + 48);
    text += R"({"jsonrpc":"2.0","id":)";
    text += json::serialize(id);
    text += R"(,"result":)";
    text += result;
    text.push_back('}');
    send_text(std::move(text), origin, true);
  } catch (const std::exception& e) {
    send(make_error(id, kInternalError, std::string("Internal error: ") + e.what()), origin, true);
  }
}

void McpSession::start_task_request(json::value id, TaskMethod method, json::object params,
                                    const Origin& origin) {
  json::value task_id;
  if (method != TaskMethod::kList) {
    auto* t = params.if_contains("taskId");
    if (!t || !t->is_string()) {
      send(make_error(id, kInvalidParams, "Invalid params: this method needs \"taskId\" (a string)"), origin, true);
      return;
    }
    task_id = *t;
  }
  // tasks/result may block until the task ends: it waits on the long lane,
  // where cancelling it (notifications/cancelled) ends the wait.
  const CallPool::Lane lane = method == TaskMethod::kResult ? CallPool::Lane::kLong : CallPool::Lane::kQuick;
  enqueue(
      id, lane,
      [this, id, method, task_id, params = std::move(params), origin](std::shared_ptr<Call> call) {
        const std::string tid = task_id.is_string() ? std::string(task_id.as_string()) : "";
        SessionTasks::Reply reply;
        switch (method) {
          case TaskMethod::kGet: reply = tasks_.get(tid); break;
          case TaskMethod::kResult:
            reply = tasks_.result(tid, request_context(id, origin), [call] { return call->cancelled.load(); });
            break;
          case TaskMethod::kCancel: reply = tasks_.cancel(tid, request_context(id, origin)); break;
          case TaskMethod::kList: reply = tasks_.list(params.if_contains("cursor")); break;
        }
        send_task_reply(id, reply, origin);
        finish_call(id);
      },
      origin);
}

void McpSession::send_task_reply(const json::value& id, const SessionTasks::Reply& reply, const Origin& origin) {
  if (reply.error_code != 0) {
    send(make_error(id, reply.error_code, reply.error_message), origin, true);
    return;
  }
  std::string text;
  text.reserve(reply.result_json.size() + 48);
  text += R"({"jsonrpc":"2.0","id":)";
  text += json::serialize(id);
  text += R"(,"result":)";
  text += reply.result_json;
  text.push_back('}');
  send_text(std::move(text), origin, true);
}

void McpSession::start_resource_request(json::value id, Job job, json::object params, const Origin& origin) {
  const ToolCatalog::Tools* catalog = tools();
  if (!catalog || !catalog->resources_available) {
    send(make_error(id, kMethodNotFound, "Method not found: this server's core offers no resources"), origin,
         true);
    return;
  }
  enqueue(
      id, CallPool::Lane::kQuick,
      [this, id, job, params = std::move(params), origin](std::shared_ptr<Call> call) {
        run_resource_request(id, job, params, *call, origin);
        finish_call(id);
      },
      origin);
}

void McpSession::run_resource_request(const json::value& id, Job job, const json::object& params,
                                      const Call& call, const Origin& origin) {
  if (call.cancelled) {
    send(make_error(id, kInternalError, "Request cancelled before it started"), origin, true);
    return;
  }
  json::object args;
  const char* op = kListResourcesOp;
  if (job == Job::kReadResource) {
    auto* uri = params.if_contains("uri");
    if (!uri || !uri->is_string() || uri->as_string().empty()) {
      send(
          make_error(id, kInvalidParams, "Invalid params: resources/read needs \"uri\" (a non-empty string)"),
          origin, true);
      return;
    }
    op = kReadResourceOp;
    args["uri"] = *uri;
  } else if (job == Job::kListTemplates) {
    args["templates_only"] = true;
  } else if (auto* c = params.if_contains("cursor"); c && !c->is_null()) {
    if (!c->is_string()) {
      send(make_error(id, kInvalidParams,
                      "Invalid params: \"cursor\" must be the nextCursor string of a page"),
           origin, true);
      return;
    }
    args["cursor"] = *c;
  }
  try {
    auto r = host_.call_operation(op, json::serialize(args), request_context(id, origin), {},
                                  [&call] { return call.cancelled.load(); });
    boost::system::error_code ec;
    json::value doc = json::parse(r.json, ec);
    if (ec || !doc.is_object()) {
      send(make_error(id, kInternalError,
                      std::string("Internal error: the core answered ") + op + " with no JSON"),
           origin, true);
      return;
    }
    json::object& d = doc.as_object();
    if (r.status != ISB_OK) {
      std::string code, message = "the request failed";
      if (auto* err = d.if_contains("error"); err && err->is_object()) {
        if (auto* m = err->as_object().if_contains("message"); m && m->is_string()) message = m->as_string();
        if (auto* c = err->as_object().if_contains("code"); c && c->is_string()) code = c->as_string();
      }
      if (code == "not_found") {
        json::object e = make_error(id, kResourceNotFound, "Resource not found: " + message);
        e["error"].as_object()["data"] = json::object{{"uri", args.contains("uri") ? args["uri"] : nullptr}};
        send(e, origin, true);
      } else if (code == "invalid_argument" || code == "permission_denied") {
        send(make_error(id, kInvalidParams, "Invalid params: " + message), origin, true);
      } else {
        send(make_error(id, kInternalError, code + ": " + message), origin, true);
      }
      return;
    }
    json::object result;
    if (job == Job::kReadResource) {
      result["contents"] = d["contents"];
    } else if (job == Job::kListTemplates) {
      result["resourceTemplates"] = d["resource_templates"];
    } else {
      result["resources"] = d["resources"];
      if (auto* n = d.if_contains("next_cursor"); n && n->is_string()) result["nextCursor"] = *n;
    }
    send(make_result(id, std::move(result)), origin, true);
  } catch (const std::exception& e) {
    send(make_error(id, kInternalError, std::string("Internal error: ") + e.what()), origin, true);
  }
}

}  // namespace isb::mcp
