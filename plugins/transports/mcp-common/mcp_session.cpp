// mcp_session.cpp: the MCP methods on top of the host's operation registry.
// Resources are served by two operations of the core, list_resources and
// read_resource (core/src/operations/resource_operations.cpp), so that the
// URI scheme and the confinement of workspace files live in one place.
#include "mcp_session.hpp"

#include <algorithm>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "json_rpc.hpp"

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
             [this](const json::object& request) { send(request, Origin{}, false); }) {
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
  roots_.close();
  std::unique_lock<std::mutex> lock(calls_mu_);
  for (auto& [_, call] : calls_) call->cancelled = true;
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
  return json::object{
      {"protocolVersion", chosen},
      {"capabilities", std::move(capabilities)},
      {"serverInfo",
       json::object{{"name", "intelligent-sandbox"}, {"title", "Intelligent Sandbox"}, {"version", version}}},
      {"instructions",
       "Isolated, codebase-aware workspaces. Typical flow: create_workspace(source_path) -> analyze_codebase "
       "-> "
       "create_task_plan(task_description) -> approve_plan -> execute_task_plan -> get_execution_history -> "
       "destroy_workspace. exec_command runs a single shell command. Full step logs and workspace files are "
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
  } else {
    send(make_error(id, kMethodNotFound,
                    "Method not found: " + method +
                        " (this server implements initialize, ping, tools/list, tools/call, resources/list, "
                        "resources/templates/list, resources/read, logging/setLevel)"),
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
  for (size_t i = offset; i < end; ++i) page.push_back((*t)[i]);
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

void McpSession::append_resource_links(std::string& content, std::string_view result_json) const {
  // Only results that offer links pay for parsing them.
  if (!links_supported_ || result_json.find("\"resource_links\"") == std::string_view::npos) return;
  boost::system::error_code ec;
  json::value doc = json::parse(result_json, ec);
  if (ec || !doc.is_object()) return;
  auto* links = doc.as_object().if_contains("resource_links");
  if (!links || !links->is_array()) return;
  for (const auto& l : links->as_array()) {
    if (!l.is_object()) continue;
    const json::object& lo = l.as_object();
    auto* uri = lo.if_contains("uri");
    auto* name = lo.if_contains("name");
    if (!uri || !uri->is_string() || !name || !name->is_string()) continue;
    json::object item{{"type", "resource_link"}, {"uri", *uri}, {"name", *name}};
    for (const char* k : {"title", "description", "mimeType", "size"}) {
      if (auto* v = lo.if_contains(k)) item[k] = *v;
    }
    content.push_back(',');
    content += json::serialize(item);
  }
}

void McpSession::run_tool_call(const json::value& id, const std::string& name, const json::object& args,
                               const std::optional<json::value>& progress_token, const Call& call,
                               const Origin& origin) {
  if (call.cancelled) {
    // Cancelled while it waited for a worker: it never started.
    send(make_error(id, kInternalError, "Request cancelled before it started"), origin, true);
    return;
  }
  double last_progress = -1;
  auto on_event = [&](std::string_view event_text) {
    if (call.cancelled) return;
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
           origin, false);
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
    send(make_notification("notifications/progress", std::move(n)), origin, false);
  };
  try {
    auto r = host_.call_operation(name, json::serialize(args), request_context(id, origin), on_event,
                                  [&call] { return call.cancelled.load(); });
    if (r.status == ISB_OK) {
      // The host hands over a serialized, schema-checked document: it goes out
      // as structuredContent and, escaped, as the text block without being
      // parsed and serialized again (the hot path of every call).
      std::string text;
      text.reserve(2 * r.json.size() + 128);
      text += R"({"jsonrpc":"2.0","id":)";
      text += json::serialize(id);
      text += R"(,"result":{"content":[{"type":"text","text":)";
      text += json::serialize(json::string_view(r.json));
      text.push_back('}');
      append_resource_links(text, r.json);
      text += R"(],"structuredContent":)";
      text += r.json;
      text += R"(,"isError":false}})";
      send_text(std::move(text), origin, true);
      return;
    }
    boost::system::error_code ec;
    json::value doc = json::parse(r.json, ec);
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
    send(make_result(id, json::object{{"content", json::array{json::object{{"type", "text"},
                                                                           {"text", code + ": " + message}}}},
                                      {"isError", true}}),
         origin, true);
  } catch (const std::exception& e) {
    send(make_error(id, kInternalError, std::string("Internal error: ") + e.what()), origin, true);
  }
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
