// mcp_session.cpp: the MCP methods on top of the host's operation registry.
#include "mcp_session.hpp"

#include <algorithm>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <thread>

#include "json_rpc.hpp"

namespace json = boost::json;

namespace isb::mcp {

namespace {

constexpr const char* kLogLevels[] = {"debug", "info",     "notice", "warning",
                                      "error", "critical", "alert",  "emergency"};

// Cursors are opaque to clients; this one is the offset of the next page.
constexpr std::string_view kCursorPrefix = "tools-offset:";

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
      options_(options) {
  if (options_.tools_page_size == 0) options_.tools_page_size = 1;
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

void McpSession::send(const json::object& message, const Origin& origin) {
  try {
    if (origin.writer) {
      origin.writer(message);
    } else {
      writer_(message);
    }
  } catch (const std::exception& e) {
    host_.warn(std::string("could not send a message: ") + e.what());
  }
}

void McpSession::shutdown() {
  shutting_down_ = true;
  std::unique_lock<std::mutex> lock(calls_mu_);
  for (auto& [_, call] : calls_) call->cancelled = true;
  calls_done_.wait(lock, [this] { return running_ == 0; });
}

int McpSession::handle_text(std::string_view text, const Origin& origin) {
  boost::system::error_code ec;
  json::value msg = json::parse(text, ec);
  if (ec) {
    send(make_error(nullptr, kParseError, "Parse error: " + ec.message()), origin);
    return 1;
  }
  if (msg.is_array()) {
    send(make_error(nullptr, kInvalidRequest,
                    "Invalid Request: JSON-RPC batches are not supported; send one message "
                    "per line"),
         origin);
    return 1;
  }
  if (!msg.is_object()) {
    send(make_error(nullptr, kInvalidRequest, "Invalid Request: a message must be a JSON object"), origin);
    return 1;
  }
  const json::object& o = msg.as_object();
  const json::value* id = o.if_contains("id");
  const json::value* version = o.if_contains("jsonrpc");
  const json::value* method = o.if_contains("method");
  bool id_ok = id && (id->is_string() || id->is_int64() || id->is_uint64());
  json::value reply_id = id_ok ? *id : json::value(nullptr);
  if (!version || !version->is_string() || version->as_string() != "2.0") {
    send(make_error(reply_id, kInvalidRequest, "Invalid Request: \"jsonrpc\" must be \"2.0\""), origin);
    return 1;
  }
  if (!method) {
    // A response to a request we never send, or garbage: responses get no reply.
    if (o.contains("result") || o.contains("error")) return 0;
    send(make_error(reply_id, kInvalidRequest, "Invalid Request: \"method\" is missing"), origin);
    return 1;
  }
  if (!method->is_string()) {
    send(make_error(reply_id, kInvalidRequest, "Invalid Request: \"method\" must be a string"), origin);
    return 1;
  }
  const json::value* params_v = o.if_contains("params");
  if (params_v && !params_v->is_object()) {
    if (!id) return 0;
    send(make_error(reply_id, kInvalidParams, "Invalid params: \"params\" must be an object"), origin);
    return 1;
  }
  json::object params = params_v ? params_v->as_object() : json::object{};
  std::string m(method->as_string());
  if (!id) {
    handle_notification(m, params);
    return 0;
  }
  if (!id_ok) {
    send(make_error(nullptr, kInvalidRequest, "Invalid Request: \"id\" must be a string or an integer"),
         origin);
    return 1;
  }
  handle_request(*id, m, params, origin);
  return 1;
}

void McpSession::handle_notification(const std::string& method, const json::object& params) {
  if (method == "notifications/initialized") {
    initialized_ = true;
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
  std::string version = "0.0.0";
  boost::system::error_code ec;
  json::value info = json::parse(host_.host_info(), ec);
  if (!ec && info.is_object()) {
    if (auto* v = info.as_object().if_contains("version"); v && v->is_string())
      version = std::string(v->as_string());
  }
  // Only what is implemented: tools (fixed list) and logging (setLevel +
  // notifications/message). No resources, prompts or completions yet.
  return json::object{
      {"protocolVersion", chosen},
      {"capabilities",
       json::object{{"tools", json::object{{"listChanged", false}}}, {"logging", json::object{}}}},
      {"serverInfo",
       json::object{{"name", "intelligent-sandbox"}, {"title", "Intelligent Sandbox"}, {"version", version}}},
      {"instructions",
       "Isolated, codebase-aware workspaces. Typical flow: create_workspace(source_path) -> analyze_codebase "
       "-> "
       "create_task_plan(task_description) -> approve_plan -> execute_task_plan -> get_execution_history -> "
       "destroy_workspace. exec_command runs a single shell command."}};
}

std::optional<json::array> McpSession::tools() {
  std::lock_guard<std::mutex> lock(tools_mu_);
  if (tools_) return tools_;
  std::string text;
  try {
    text = host_.list_operations();
  } catch (const std::exception& e) {
    host_.error(std::string("cannot list operations: ") + e.what());
    return std::nullopt;
  }
  boost::system::error_code ec;
  json::value ops = json::parse(text, ec);
  if (ec || !ops.is_array()) return std::nullopt;
  json::array tools;
  for (const auto& op : ops.as_array()) {
    const json::object& o = op.as_object();
    const json::object& a = o.at("annotations").as_object();
    json::object tool{{"name", o.at("name")},
                      {"title", o.at("title")},
                      {"description", o.at("description")},
                      {"inputSchema", o.at("input_schema")},
                      {"outputSchema", o.at("output_schema")},
                      {"annotations", json::object{{"title", o.at("title")},
                                                   {"readOnlyHint", a.at("read_only")},
                                                   {"destructiveHint", a.at("destructive")},
                                                   {"idempotentHint", a.at("idempotent")},
                                                   {"openWorldHint", a.at("open_world")}}}};
    tool_names_[std::string(o.at("name").as_string())] = true;
    tools.push_back(std::move(tool));
  }
  tools_ = std::move(tools);
  return tools_;
}

void McpSession::handle_request(const json::value& id, const std::string& method, const json::object& params,
                                const Origin& origin) {
  if (method == "initialize") {
    send(make_result(id, initialize(params)), origin);
  } else if (method == "ping") {
    send(make_result(id, json::object{}), origin);
  } else if (method == "tools/list") {
    list_tools(id, params, origin);
  } else if (method == "tools/call") {
    start_tool_call(id, params, origin);
  } else if (method == "logging/setLevel") {
    set_log_level(id, params, origin);
  } else {
    send(make_error(
             id, kMethodNotFound,
             "Method not found: " + method +
                 " (this server implements initialize, ping, tools/list, tools/call, logging/setLevel)"),
         origin);
  }
}

void McpSession::list_tools(const json::value& id, const json::object& params, const Origin& origin) {
  auto t = tools();
  if (!t) {
    send(make_error(id, kInternalError, "Internal error: the server could not list its tools"), origin);
    return;
  }
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
           origin);
      return;
    }
  }
  json::array page;
  size_t end = std::min(t->size(), offset + options_.tools_page_size);
  for (size_t i = offset; i < end; ++i) page.push_back((*t)[i]);
  json::object result{{"tools", std::move(page)}};
  if (end < t->size()) result["nextCursor"] = std::string(kCursorPrefix) + std::to_string(end);
  send(make_result(id, std::move(result)), origin);
}

void McpSession::set_log_level(const json::value& id, const json::object& params, const Origin& origin) {
  const json::value* level = params.if_contains("level");
  int rank = level && level->is_string() ? log_level_rank(level->as_string()) : -1;
  if (rank < 0) {
    send(make_error(
             id, kInvalidParams,
             "Invalid params: \"level\" must be one of debug, info, notice, warning, error, critical, alert, "
             "emergency"),
         origin);
    return;
  }
  min_log_rank_ = rank;
  send(make_result(id, json::object{}), origin);
}

void McpSession::start_tool_call(const json::value& id, const json::object& params, const Origin& origin) {
  const json::value* name = params.if_contains("name");
  if (!name || !name->is_string()) {
    send(make_error(id, kInvalidParams, "Invalid params: tools/call needs \"name\" (a string)"), origin);
    return;
  }
  std::string tool(name->as_string());
  if (!tools()) {
    send(make_error(id, kInternalError, "Internal error: the server could not list its tools"), origin);
    return;
  }
  {
    std::lock_guard<std::mutex> lock(tools_mu_);
    if (!tool_names_.count(tool)) {
      send(
          make_error(id, kInvalidParams, "Unknown tool: " + tool + " (tools/list shows the available tools)"),
          origin);
      return;
    }
  }
  const json::value* args = params.if_contains("arguments");
  if (args && !args->is_object() && !args->is_null()) {
    send(make_error(id, kInvalidParams, "Invalid params: \"arguments\" must be an object"), origin);
    return;
  }
  std::optional<json::value> token;
  if (auto* meta = params.if_contains("_meta"); meta && meta->is_object()) {
    if (auto* t = meta->as_object().if_contains("progressToken"); t && (t->is_string() || t->is_number()))
      token = *t;
  }
  auto call = std::make_shared<Call>();
  {
    std::lock_guard<std::mutex> lock(calls_mu_);
    if (shutting_down_) {
      send(make_error(id, kInternalError, "the server is shutting down"), origin);
      return;
    }
    // A reused id would overwrite the running call's entry, which then could
    // no longer be cancelled (nor by shutdown at end of input).
    if (calls_.count(id_key(id))) {
      send(make_error(id, kInvalidRequest,
                      "Invalid Request: id " + id_key(id) + " is already used by a call in flight"),
           origin);
      return;
    }
    calls_[id_key(id)] = call;
    ++running_;
  }
  json::object a = args && args->is_object() ? args->as_object() : json::object{};
  std::thread(&McpSession::run_tool_call, this, id, std::move(tool), std::move(a), std::move(token), call,
              origin)
      .detach();
}

void McpSession::run_tool_call(json::value id, std::string name, json::object args,
                               std::optional<json::value> progress_token, std::shared_ptr<Call> call,
                               Origin origin) {
  double last_progress = -1;
  auto on_event = [&](std::string_view event_text) {
    if (call->cancelled) return;
    boost::system::error_code ec;
    json::value e = json::parse(event_text, ec);
    if (ec || !e.is_object()) return;
    const json::object& ev = e.as_object();
    auto* type = ev.if_contains("type");
    if (!type || !type->is_string()) return;
    if (type->as_string() == "output") {
      // Command output as log messages: stdout is info, stderr a warning.
      auto* stream = ev.if_contains("stream");
      auto* data = ev.if_contains("data");
      if (!data || !data->is_string()) return;
      bool is_stderr = stream && stream->is_string() && stream->as_string() == "stderr";
      int rank = log_level_rank(is_stderr ? "warning" : "info");
      if (rank < min_log_rank_.load()) return;
      send(make_notification("notifications/message",
                             json::object{{"level", is_stderr ? "warning" : "info"},
                                          {"logger", "execution"},
                                          {"data", json::object{{"stream", is_stderr ? "stderr" : "stdout"},
                                                                {"text", *data}}}}),
           origin);
      return;
    }
    if (!progress_token || type->as_string() != "progress") return;
    double p =
        ev.contains("progress") && ev.at("progress").is_number() ? ev.at("progress").to_number<double>() : 0;
    // Progress must increase with every notification.
    if (p <= last_progress) p = last_progress + 0.001;
    last_progress = p;
    json::object n{{"progressToken", *progress_token}, {"progress", p}};
    if (auto* t = ev.if_contains("total"); t && t->is_number()) n["total"] = *t;
    if (auto* m = ev.if_contains("message"); m && m->is_string()) n["message"] = *m;
    send(make_notification("notifications/progress", std::move(n)), origin);
  };
  isb::sdk::RequestContext ctx;
  ctx.transport = transport_id_;
  ctx.client_id = client_id_;
  ctx.request_id = id_key(id);
  ctx.principal = origin.principal;
  ctx.credential = origin.credential;
  ctx.admitted = origin.admitted;
  json::object response;
  try {
    auto r = host_.call_operation(name, json::serialize(args), ctx, on_event,
                                  [&call] { return call->cancelled.load(); });
    boost::system::error_code ec;
    json::value doc = json::parse(r.json, ec);
    if (r.status == ISB_OK && !ec) {
      response = make_result(
          id, json::object{{"content", json::array{json::object{{"type", "text"}, {"text", r.json}}}},
                           {"structuredContent", doc},
                           {"isError", false}});
    } else {
      std::string message = "the operation failed";
      std::string code = "error";
      if (!ec && doc.is_object()) {
        if (auto* err = doc.as_object().if_contains("error"); err && err->is_object()) {
          const json::object& eo = err->as_object();
          if (auto* m = eo.if_contains("message"); m && m->is_string()) message = std::string(m->as_string());
          if (auto* c = eo.if_contains("code"); c && c->is_string()) code = std::string(c->as_string());
        }
      }
      // Tool failures are results with isError, so the model sees the message.
      response = make_result(
          id, json::object{
                  {"content", json::array{json::object{{"type", "text"}, {"text", code + ": " + message}}}},
                  {"isError", true}});
    }
  } catch (const std::exception& e) {
    response = make_error(id, kInternalError, std::string("Internal error: ") + e.what());
  }
  send(response, origin);
  std::lock_guard<std::mutex> lock(calls_mu_);
  calls_.erase(id_key(id));
  --running_;
  calls_done_.notify_all();
}

}  // namespace isb::mcp
