// http_transport.cpp: the "mcp-http" transport plugin: MCP Streamable HTTP
// (revision 2025-03-26 and later) on one endpoint, /mcp, plus /health.
//
//   POST /mcp    one JSON-RPC message; a request gets a JSON response, or an
//                SSE stream (tools/call, when the client accepts one) carrying
//                its progress and log notifications and then the response; a
//                notification or response gets 202 with no body.
//   GET  /mcp    405: this server never starts a conversation, so it offers no
//                standalone SSE stream.
//   DELETE /mcp  ends the session named by Mcp-Session-Id.
//   GET /health  {"status":"ok"} for load balancers (no key needed).
//
// initialize creates a session and returns its id in Mcp-Session-Id (128
// random bits as hex); every later request must carry it (missing: 400,
// unknown or ended: 404). MCP-Protocol-Version, when sent, must be a revision
// this server speaks (absent means 2025-03-26), else 400.
//
// Front door, in this order: Host and Origin (DNS rebinding) -> 403; API key
// and rate limit through the host's admit() -> 401 with WWW-Authenticate /
// 429 with Retry-After. The server binds 127.0.0.1 unless told otherwise and
// refuses to listen on any other address unless the core requires API keys.
//
// Threads: one acceptor thread (serve()) and one thread per connection,
// bounded by max_connections; tools/call runs on the session's worker threads.
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <isb/sdk/plugin.hpp>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "json_rpc.hpp"
#include "mcp_session.hpp"
#include "origin_policy.hpp"

namespace json = boost::json;
namespace beast = boost::beast;
namespace http = boost::beast::http;
namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {

constexpr const char* kConfigSchema = R"({"type":"object","additionalProperties":false,"properties":{
  "host":{"type":"string","minLength":1,"description":"Address to listen on. Default 127.0.0.1; any other needs API keys."},
  "port":{"type":"integer","minimum":0,"maximum":65535,"description":"TCP port; 0 picks a free one (logged). Default 8080."},
  "allowed_hosts":{"type":"array","items":{"type":"string"},"description":"Extra Host names accepted (DNS rebinding check)."},
  "allowed_origins":{"type":"array","items":{"type":"string"},"description":"Extra Origins accepted, e.g. https://app.example."},
  "max_connections":{"type":"integer","minimum":1,"description":"Open connections served at once; more get 503. Default 512."},
  "max_sessions":{"type":"integer","minimum":1,"description":"Live MCP sessions; more get 503. Default 1024."},
  "session_idle_timeout_s":{"type":"integer","minimum":1,"description":"Idle sessions older than this are ended. Default 3600."},
  "max_message_bytes":{"type":"integer","minimum":1024,"description":"Largest request body. Default 64 MiB."},
  "tools_page_size":{"type":"integer","minimum":1,"description":"Tools per tools/list page. Default 100."}}})";

// The default when the client sends no MCP-Protocol-Version (transports spec).
constexpr const char* kDefaultHeaderVersion = "2025-03-26";

std::string random_session_id() {
  static thread_local std::random_device rd;
  static const char* kHex = "0123456789abcdef";
  std::string id;
  for (int i = 0; i < 4; ++i) {
    uint32_t v = rd();
    for (int j = 0; j < 8; ++j) id.push_back(kHex[(v >> (4 * j)) & 15]);
  }
  return id;
}

bool is_loopback_address(const std::string& host) {
  if (host == "localhost") return true;
  boost::system::error_code ec;
  auto a = asio::ip::make_address(host, ec);
  return !ec && a.is_loopback();
}

// Messages for one POST, in order, until its response has been seen.
class PostStream {
 public:
  void push(const json::object& m) {
    std::lock_guard<std::mutex> lock(mu_);
    messages_.push_back(json::serialize(m));
    cv_.notify_all();
  }
  // Waits for the next message; nullopt once stop is set and none is left.
  std::optional<std::string> pop(const std::atomic<bool>& stop) {
    std::unique_lock<std::mutex> lock(mu_);
    while (messages_.empty()) {
      if (stop) return std::nullopt;
      cv_.wait_for(lock, std::chrono::milliseconds(200));
    }
    std::string m = std::move(messages_.front());
    messages_.pop_front();
    return m;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::string> messages_;
};

// True when the text is a JSON-RPC response (has an id and no method).
bool is_response(const std::string& text) {
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec || !v.is_object()) return false;
  const json::object& o = v.as_object();
  return !o.contains("method") && o.contains("id");
}

class HttpTransport : public isb::sdk::Transport {
 public:
  static isb::sdk::PluginInfo info() {
    return {"mcp-http",
            "MCP over Streamable HTTP",
            "0.1.0",
            "Model Context Protocol server on HTTP: one endpoint /mcp (POST JSON or SSE, DELETE), sessions, "
            "Host/Origin checks, API keys and rate limits through the core",
            kConfigSchema,
            ISB_CAP_THREAD_SAFE};
  }

  HttpTransport(isb::sdk::Host host, const std::string& config_json) : host_(host) {
    boost::system::error_code ec;
    json::value cfg = json::parse(config_json, ec);
    if (ec || !cfg.is_object()) throw isb::sdk::Error(ISB_INVALID_CONFIG, "config must be a JSON object");
    const json::object& c = cfg.as_object();
    auto integer = [&](const char* key, int64_t fallback) {
      auto* v = c.if_contains(key);
      return v && v->is_int64() ? v->as_int64() : fallback;
    };
    auto strings = [&](const char* key) {
      std::vector<std::string> out;
      if (auto* v = c.if_contains(key); v && v->is_array()) {
        for (auto& s : v->as_array()) {
          if (s.is_string()) out.emplace_back(s.as_string());
        }
      }
      return out;
    };
    if (auto* h = c.if_contains("host"); h && h->is_string()) bind_host_ = std::string(h->as_string());
    port_ = static_cast<int>(integer("port", 8080));
    max_connections_ = static_cast<size_t>(integer("max_connections", 512));
    max_sessions_ = static_cast<size_t>(integer("max_sessions", 1024));
    idle_timeout_ = std::chrono::seconds(integer("session_idle_timeout_s", 3600));
    max_message_bytes_ = static_cast<size_t>(integer("max_message_bytes", 64ll << 20));
    session_options_.tools_page_size = static_cast<size_t>(integer("tools_page_size", 100));
    policy_ = std::make_unique<isb::mcp::OriginPolicy>(bind_host_, strings("allowed_hosts"),
                                                       strings("allowed_origins"));
    if (pipe2(stop_pipe_, O_CLOEXEC | O_NONBLOCK) != 0) {
      throw isb::sdk::Error(ISB_UNAVAILABLE, std::string("pipe2: ") + std::strerror(errno));
    }
  }

  ~HttpTransport() override {
    close(stop_pipe_[0]);
    close(stop_pipe_[1]);
  }

  void serve() override {
    if (!host_.can_call_operations()) {
      throw isb::sdk::Error(ISB_NOT_SUPPORTED, "the host does not offer call_operation to transports");
    }
    const isb_host_api* api = host_.raw();
    if (!ISB_HAS_FIELD(api, isb_host_api, admit) || !api->admit) {
      throw isb::sdk::Error(
          ISB_NOT_SUPPORTED,
          "the host has no admit() (API keys and rate limits); use a host with plugin ABI 1.0 "
          "including admit");
    }
    bool keys_required = false;
    if (ISB_HAS_FIELD(api, isb_host_api, security_policy_json) && api->security_policy_json) {
      boost::system::error_code ec;
      json::value p = json::parse(api->security_policy_json, ec);
      if (!ec && p.is_object()) {
        if (auto* k = p.as_object().if_contains("api_keys_required"); k && k->is_bool())
          keys_required = k->as_bool();
      }
    }
    if (!is_loopback_address(bind_host_) && !keys_required) {
      throw isb::sdk::Error(
          ISB_INVALID_CONFIG,
          "refusing to listen on " + bind_host_ +
              " without API keys: anyone who can reach it could run commands. Set SANDBOX_API_KEY "
              "(or security.api_keys), or listen on 127.0.0.1");
    }
    asio::io_context io;
    tcp::acceptor acceptor(io);
    boost::system::error_code ec;
    auto address = asio::ip::make_address(bind_host_ == "localhost" ? "127.0.0.1" : bind_host_, ec);
    if (ec) {
      throw isb::sdk::Error(ISB_INVALID_CONFIG,
                            "host '" + bind_host_ + "' is not an IP address (use e.g. 127.0.0.1)");
    }
    tcp::endpoint ep(address, static_cast<unsigned short>(port_));
    acceptor.open(ep.protocol(), ec);
    if (!ec) acceptor.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) acceptor.bind(ep, ec);
    if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
      throw isb::sdk::Error(ISB_UNAVAILABLE, "cannot listen on " + bind_host_ + ":" + std::to_string(port_) +
                                                 ": " + ec.message() + " (choose another --port)");
    }
    acceptor.non_blocking(true);
    auto local = acceptor.local_endpoint();
    std::string shown =
        local.address().is_v6() ? "[" + local.address().to_string() + "]" : local.address().to_string();
    host_.info("listening on http://" + shown + ":" + std::to_string(local.port()) + "/mcp");

    for (;;) {
      pollfd fds[2] = {{acceptor.native_handle(), POLLIN, 0}, {stop_pipe_[0], POLLIN, 0}};
      int n = poll(fds, 2, 1000);
      if (n < 0 && errno != EINTR) break;
      if (fds[1].revents) break;
      expire_idle_sessions();
      if (n <= 0 || !(fds[0].revents & POLLIN)) continue;
      tcp::socket socket(io);
      acceptor.accept(socket, ec);
      if (ec) continue;
      socket.non_blocking(false);
      start_connection(std::move(socket));
    }
    acceptor.close(ec);
    stopping_ = true;
    {
      // Unblock connection threads waiting in read().
      std::lock_guard<std::mutex> lock(conn_mu_);
      for (int fd : open_fds_) ::shutdown(fd, SHUT_RDWR);
    }
    std::map<std::string, std::shared_ptr<SessionEntry>> sessions;
    {
      std::lock_guard<std::mutex> lock(sessions_mu_);
      sessions.swap(sessions_);
    }
    for (auto& [_, s] : sessions) s->session->shutdown();
    std::unique_lock<std::mutex> lock(conn_mu_);
    conn_done_.wait(lock, [this] { return connections_ == 0; });
  }

  void stop() override {
    char c = 1;
    [[maybe_unused]] ssize_t ignored = write(stop_pipe_[1], &c, 1);
  }

 private:
  struct SessionEntry {
    std::unique_ptr<isb::mcp::McpSession> session;
    std::atomic<int64_t> last_used_ms{0};
  };
  using Request = http::request<http::string_body>;
  using Response = http::response<http::string_body>;

  static int64_t now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
  }

  void start_connection(tcp::socket socket) {
    std::lock_guard<std::mutex> lock(conn_mu_);
    if (connections_ >= max_connections_) {
      // Told, not silently dropped: the client can retry.
      Response res{http::status::service_unavailable, 11};
      res.set(http::field::retry_after, "1");
      res.set(http::field::content_type, "application/json");
      res.body() = R"({"error":"too many connections; retry shortly"})";
      res.prepare_payload();
      boost::system::error_code ec;
      http::write(socket, res, ec);
      return;
    }
    ++connections_;
    open_fds_.insert(socket.native_handle());
    std::thread(&HttpTransport::run_connection, this, std::move(socket)).detach();
  }

  void run_connection(tcp::socket socket) {
    int fd = socket.native_handle();
    std::string peer = "unknown";
    boost::system::error_code ec;
    auto remote = socket.remote_endpoint(ec);
    if (!ec) peer = remote.address().to_string();
    beast::flat_buffer buffer;
    while (!stopping_) {
      http::request_parser<http::string_body> parser;
      parser.body_limit(max_message_bytes_);
      http::read(socket, buffer, parser, ec);
      if (ec == http::error::body_limit) {
        Response res =
            text_response(http::status::payload_too_large, 11,
                          "request body larger than " + std::to_string(max_message_bytes_) + " bytes");
        res.keep_alive(false);
        http::write(socket, res, ec);
        break;
      }
      if (ec) break;
      Request req = parser.release();
      bool keep = handle(socket, req, peer);
      if (!keep || !req.keep_alive()) break;
    }
    socket.shutdown(tcp::socket::shutdown_both, ec);
    std::lock_guard<std::mutex> lock(conn_mu_);
    open_fds_.erase(fd);
    socket.close(ec);
    --connections_;
    conn_done_.notify_all();
  }

  static Response text_response(http::status status, unsigned version, const std::string& message) {
    Response res{status, version};
    res.set(http::field::content_type, "application/json");
    res.body() = json::serialize(json::object{{"error", message}});
    res.prepare_payload();
    return res;
  }

  static Response rpc_error_response(http::status status, unsigned version, int code,
                                     const std::string& message) {
    Response res{status, version};
    res.set(http::field::content_type, "application/json");
    res.body() = json::serialize(isb::mcp::make_error(nullptr, code, message));
    res.prepare_payload();
    return res;
  }

  // Serves one request; returns false when the connection must close.
  bool handle(tcp::socket& socket, const Request& req, const std::string& peer) {
    boost::system::error_code ec;
    auto send = [&](Response res) {
      res.keep_alive(req.keep_alive());
      http::write(socket, res, ec);
      return !ec;
    };
    std::string_view target = req.target();
    target = target.substr(0, target.find('?'));
    std::string host_header(req[http::field::host]);
    if (!policy_->host_allowed(host_header)) {
      return send(
          text_response(http::status::forbidden, req.version(),
                        "Host '" + host_header +
                            "' is not one this server answers to (DNS rebinding protection); connect to "
                            "127.0.0.1 or add the name to allowed_hosts"));
    }
    if (req.count(http::field::origin) && !policy_->origin_allowed(req[http::field::origin])) {
      return send(
          text_response(http::status::forbidden, req.version(),
                        "Origin '" + std::string(req[http::field::origin]) +
                            "' is not allowed (DNS rebinding protection); add it to allowed_origins"));
    }
    if (target == "/health") {
      if (req.method() != http::verb::get && req.method() != http::verb::head) {
        Response res = text_response(http::status::method_not_allowed, req.version(), "use GET /health");
        res.set(http::field::allow, "GET, HEAD");
        return send(std::move(res));
      }
      Response res{http::status::ok, req.version()};
      res.set(http::field::content_type, "application/json");
      res.body() = R"({"status":"ok"})";
      res.prepare_payload();
      return send(std::move(res));
    }
    if (target != "/mcp") {
      return send(
          text_response(http::status::not_found, req.version(), "unknown path; the MCP endpoint is /mcp"));
    }

    // API key and rate limit, in the core.
    std::string credential(req["X-API-Key"]);
    std::string_view authz = req[http::field::authorization];
    if (credential.empty() && authz.size() > 7 &&
        (authz.substr(0, 7) == "Bearer " || authz.substr(0, 7) == "bearer ")) {
      credential = std::string(authz.substr(7));
    }
    std::string principal;
    {
      isb_request_ctx ctx{};
      ctx.struct_size = sizeof ctx;
      ctx.transport = "mcp-http";
      ctx.client_id = peer.c_str();
      ctx.credential = credential.empty() ? nullptr : credential.c_str();
      std::string out;
      isb_json_out jo{sizeof(isb_json_out), &out,
                      [](void* u, const char* j, size_t n) { static_cast<std::string*>(u)->assign(j, n); }};
      const isb_host_api* api = host_.raw();
      isb_status s = api->admit(api->host_ctx, &ctx, &jo);
      json::value doc = json::parse(out, ec);
      if (s != ISB_OK) {
        std::string code, message = "request refused";
        int64_t retry = 1;
        if (!ec && doc.is_object()) {
          if (auto* e = doc.as_object().if_contains("error"); e && e->is_object()) {
            const json::object& eo = e->as_object();
            if (auto* c = eo.if_contains("code"); c && c->is_string()) code = std::string(c->as_string());
            if (auto* m = eo.if_contains("message"); m && m->is_string())
              message = std::string(m->as_string());
            if (auto* r = eo.if_contains("retry_after_s"); r && r->is_int64()) retry = r->as_int64();
          }
        }
        if (code == "rate_limited") {
          Response res = text_response(http::status::too_many_requests, req.version(), message);
          res.set(http::field::retry_after, std::to_string(retry));
          return send(std::move(res));
        }
        Response res = text_response(http::status::unauthorized, req.version(), message);
        res.set(http::field::www_authenticate,
                credential.empty() ? R"(Bearer realm="intelligent-sandbox")"
                                   : R"(Bearer realm="intelligent-sandbox", error="invalid_token")");
        return send(std::move(res));
      }
      if (!ec && doc.is_object()) {
        if (auto* p = doc.as_object().if_contains("principal"); p && p->is_string())
          principal = p->as_string();
      }
      ec.clear();
    }

    if (req.count("MCP-Protocol-Version")) {
      std::string v(req["MCP-Protocol-Version"]);
      if (!isb::mcp::is_supported_version(v)) {
        return send(
            rpc_error_response(http::status::bad_request, req.version(), isb::mcp::kInvalidRequest,
                               "Bad Request: unsupported MCP-Protocol-Version '" + v +
                                   "'; this server speaks 2025-11-25, 2025-06-18, 2025-03-26, 2024-11-05"));
      }
    }

    std::string session_id(req["Mcp-Session-Id"]);
    if (req.method() == http::verb::get) {
      Response res = text_response(http::status::method_not_allowed, req.version(),
                                   "this server offers no standalone SSE stream; POST requests to /mcp");
      res.set(http::field::allow, "POST, DELETE");
      return send(std::move(res));
    }
    if (req.method() == http::verb::delete_) {
      if (session_id.empty()) {
        return send(text_response(http::status::bad_request, req.version(),
                                  "DELETE needs the Mcp-Session-Id header"));
      }
      std::shared_ptr<SessionEntry> entry;
      {
        std::lock_guard<std::mutex> lock(sessions_mu_);
        auto it = sessions_.find(session_id);
        if (it != sessions_.end()) {
          entry = it->second;
          sessions_.erase(it);
        }
      }
      if (!entry)
        return send(text_response(http::status::not_found, req.version(), "unknown or ended session"));
      entry->session->shutdown();
      Response res{http::status::no_content, req.version()};
      res.prepare_payload();
      return send(std::move(res));
    }
    if (req.method() != http::verb::post) {
      Response res =
          text_response(http::status::method_not_allowed, req.version(), "use POST or DELETE on /mcp");
      res.set(http::field::allow, "POST, DELETE");
      return send(std::move(res));
    }
    return handle_post(socket, req, session_id, credential, principal);
  }

  bool handle_post(tcp::socket& socket, const Request& req, const std::string& session_id,
                   const std::string& credential, const std::string& principal) {
    boost::system::error_code ec;
    auto send = [&](Response res) {
      res.keep_alive(req.keep_alive());
      http::write(socket, res, ec);
      return !ec;
    };
    std::string_view content_type = req[http::field::content_type];
    if (content_type.substr(0, 16) != "application/json") {
      return send(text_response(http::status::unsupported_media_type, req.version(),
                                "POST /mcp needs Content-Type: application/json"));
    }
    std::string_view accept = req[http::field::accept];
    bool accepts_sse = accept.find("text/event-stream") != std::string_view::npos;
    bool accepts_json = accept.empty() || accept.find("application/json") != std::string_view::npos ||
                        accept.find("*/*") != std::string_view::npos;
    if (!accepts_json && !accepts_sse) {
      return send(text_response(http::status::not_acceptable, req.version(),
                                "Accept must include application/json and text/event-stream"));
    }
    json::value msg = json::parse(req.body(), ec);
    if (ec) {
      return send(rpc_error_response(http::status::bad_request, req.version(), isb::mcp::kParseError,
                                     "Parse error: " + ec.message()));
    }
    std::string method;
    if (msg.is_object()) {
      if (auto* m = msg.as_object().if_contains("method"); m && m->is_string())
        method = std::string(m->as_string());
    }

    std::shared_ptr<SessionEntry> entry;
    std::string new_session_id;
    if (method == "initialize") {
      entry = std::make_shared<SessionEntry>();
      new_session_id = random_session_id();
      entry->session = std::make_unique<isb::mcp::McpSession>(
          host_, "mcp-http", [](const json::object&) {}, session_options_, new_session_id);
      std::lock_guard<std::mutex> lock(sessions_mu_);
      if (sessions_.size() >= max_sessions_) {
        Response res = text_response(http::status::service_unavailable, req.version(),
                                     "too many sessions; end unused ones with DELETE /mcp or retry later");
        res.set(http::field::retry_after, "5");
        return send(std::move(res));
      }
      sessions_[new_session_id] = entry;
    } else {
      if (session_id.empty()) {
        return send(
            rpc_error_response(http::status::bad_request, req.version(), isb::mcp::kInvalidRequest,
                               "Bad Request: Mcp-Session-Id header is required; send initialize first"));
      }
      std::lock_guard<std::mutex> lock(sessions_mu_);
      auto it = sessions_.find(session_id);
      if (it == sessions_.end()) {
        Response res =
            rpc_error_response(http::status::not_found, req.version(), isb::mcp::kInvalidRequest,
                               "Session not found: it ended or never existed; initialize a new one");
        return send(std::move(res));
      }
      entry = it->second;
    }
    entry->last_used_ms = now_ms();

    auto stream = std::make_shared<PostStream>();
    isb::mcp::Origin origin;
    origin.writer = [stream](const json::object& m) { stream->push(m); };
    origin.credential = credential;
    origin.principal = principal;
    origin.admitted = true;
    int expected = entry->session->handle_text(req.body(), origin);
    auto add_session_header = [&](auto& res) {
      if (!new_session_id.empty()) res.set("Mcp-Session-Id", new_session_id);
    };
    if (expected == 0) {
      Response res{http::status::accepted, req.version()};
      add_session_header(res);
      res.prepare_payload();
      return send(std::move(res));
    }

    std::atomic<bool> never{false};
    if (method == "tools/call" && accepts_sse) {
      // SSE: progress and log notifications first, then the response.
      http::response<http::empty_body> head{http::status::ok, req.version()};
      head.set(http::field::content_type, "text/event-stream");
      head.set(http::field::cache_control, "no-cache");
      add_session_header(head);
      head.chunked(true);
      head.keep_alive(req.keep_alive());
      http::response_serializer<http::empty_body> sr{head};
      http::write_header(socket, sr, ec);
      bool ok = !ec;
      for (;;) {
        auto m = stream->pop(never);
        if (!m) break;
        if (ok) {
          std::string event = "event: message\ndata: " + *m + "\n\n";
          asio::write(socket, http::make_chunk(asio::buffer(event)), ec);
          ok = !ec;
        }
        // A client that went away cancels nothing here: it can still send
        // notifications/cancelled; the call's result is simply dropped.
        if (is_response(*m)) break;
      }
      if (ok) asio::write(socket, http::make_chunk_last(), ec);
      return ok && !ec;
    }
    // JSON: the response alone; notifications have no place in it.
    for (;;) {
      auto m = stream->pop(never);
      if (!m) return false;
      if (!is_response(*m)) continue;
      Response res{http::status::ok, req.version()};
      res.set(http::field::content_type, "application/json");
      add_session_header(res);
      res.body() = std::move(*m);
      res.prepare_payload();
      return send(std::move(res));
    }
  }

  void expire_idle_sessions() {
    int64_t limit = now_ms() - std::chrono::duration_cast<std::chrono::milliseconds>(idle_timeout_).count();
    std::vector<std::shared_ptr<SessionEntry>> expired;
    {
      std::lock_guard<std::mutex> lock(sessions_mu_);
      for (auto it = sessions_.begin(); it != sessions_.end();) {
        if (it->second->last_used_ms < limit && it->second->session->in_flight() == 0) {
          expired.push_back(it->second);
          it = sessions_.erase(it);
        } else {
          ++it;
        }
      }
    }
    for (auto& e : expired) e->session->shutdown();
  }

  isb::sdk::Host host_;
  std::string bind_host_ = "127.0.0.1";
  int port_ = 8080;
  size_t max_connections_ = 512;
  size_t max_sessions_ = 1024;
  std::chrono::seconds idle_timeout_{3600};
  size_t max_message_bytes_ = 64u << 20;
  isb::mcp::SessionOptions session_options_;
  std::unique_ptr<isb::mcp::OriginPolicy> policy_;
  int stop_pipe_[2] = {-1, -1};
  std::atomic<bool> stopping_{false};

  std::mutex conn_mu_;
  std::condition_variable conn_done_;
  size_t connections_ = 0;
  std::set<int> open_fds_;

  std::mutex sessions_mu_;
  std::map<std::string, std::shared_ptr<SessionEntry>> sessions_;
};

}  // namespace

ISB_PLUGIN(HttpTransport)
