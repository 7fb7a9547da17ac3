// http_transport.cpp: the "mcp-http" transport plugin: MCP Streamable HTTP
// (revision 2025-03-26 and later) on one endpoint, /mcp, plus /health.
//
//   POST /mcp    one JSON-RPC message; a request gets a JSON response, or an
//                SSE stream (tools/call, when the client accepts one) carrying
//                its progress and log notifications and then the response; a
//                notification or response gets 202 with no body.
//   GET  /mcp    the session's own SSE stream (session_stream.hpp): the
//                notifications that have no request stream to go to (those of
//                a request answered with plain JSON, or whose POST connection
//                closed), with numbered events; Last-Event-ID resumes after a
//                reconnect within the replay buffer. One GET stream per
//                session at a time (another gets 409). 405 when the config
//                sets standalone_sse to false.
//   DELETE /mcp  ends the session named by Mcp-Session-Id.
//   GET /health  {"status":"ok"} for load balancers (no key needed).
//
// initialize creates a session and returns its id in Mcp-Session-Id (128
// random bits as hex); every later request must carry it (missing: 400,
// unknown or ended: 404). A session belongs to the principal (API key) that
// created it: any other key gets the same 404 as for an unknown id, so a
// leaked id is useless without its key. MCP-Protocol-Version, when sent, must
// be a revision this server speaks (absent means 2025-03-26), else 400.
//
// Sessions per principal are capped (max_sessions_per_key) below the server's
// cap (max_sessions), so one key cannot take every session: a key at its cap
// that initializes again ends its own oldest idle session (no request or GET
// stream open, no call running); with none idle it gets 429 naming the cap.
// A full server ends the oldest idle session of the principal holding the
// most; with none idle anywhere, 503.
//
// Front door, in this order: exactly one Host and at most one Origin header
// (else 400: two values let a proxy and this server disagree); Host and
// Origin allowed (DNS rebinding) -> 403; API key, lockout after wrong keys and
// rate limit through the host's admit() -> 401 with WWW-Authenticate / 429
// with Retry-After. The server binds 127.0.0.1 unless told otherwise and
// refuses to listen on any other address unless the core requires API keys.
//
// Threads: one acceptor thread (serve()) and one thread per connection,
// bounded by max_connections; tools/call and resources/* run on one CallPool
// shared by all sessions (call_workers, long_call_workers).
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
#include "session_config.hpp"
#include "session_stream.hpp"

namespace json = boost::json;
namespace beast = boost::beast;
namespace http = boost::beast::http;
namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {

const std::string kConfigSchema = std::string(R"({"type":"object","additionalProperties":false,"properties":{
  "host":{"type":"string","minLength":1,"description":"Address to listen on. Default 127.0.0.1; any other needs API keys."},
  "port":{"type":"integer","minimum":0,"maximum":65535,"description":"TCP port; 0 picks a free one (logged). Default 8080."},
  "allowed_hosts":{"type":"array","items":{"type":"string"},"description":"Extra Host names accepted (DNS rebinding check)."},
  "allowed_origins":{"type":"array","items":{"type":"string"},"description":"Extra Origins accepted, e.g. https://app.example."},
  "max_connections":{"type":"integer","minimum":1,"description":"Open connections served at once; more get 503. Default 512."},
  "max_sessions":{"type":"integer","minimum":1,"description":"Live MCP sessions; a full server ends the oldest idle session of the key holding the most, else answers 503. Default 1024."},
  "max_sessions_per_key":{"type":"integer","minimum":1,"description":"Live MCP sessions per API key (all clients share one when no keys are configured); a key at its cap ends its own oldest idle session, else gets 429. Default 64."},
  "session_idle_timeout_s":{"type":"integer","minimum":1,"description":"Idle sessions older than this are ended. Default 3600."},
  "max_message_bytes":{"type":"integer","minimum":1024,"description":"Largest request body. Default 64 MiB."},
  "standalone_sse":{"type":"boolean","description":"Offer the GET /mcp stream for server-initiated messages (else 405). Default true."},
  "sse_replay_events":{"type":"integer","minimum":1,"maximum":100000,"description":"Events per session kept for Last-Event-ID resumption (and at most 4 MiB of them). Default 512."},
  "api_key_header":{"type":"string","pattern":"^[A-Za-z0-9!#$%&'*+.^_`|~-]+$","description":"Header that carries the API key (mcp_config.json authentication.header). Authorization: Bearer <key> is accepted as well. Default X-API-Key."},)") +
                                  isb::mcp::kSessionConfigProperties + "}}";

// Comment lines on an idle GET stream, so that proxies keep it open.
constexpr auto kKeepAliveEvery = std::chrono::seconds(15);

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

// Messages for one POST, in order, until its response has been seen. In JSON
// mode (the client takes no SSE, or the request is not a tools/call)
// notifications are refused, so that the session sends them on the GET
// stream; once the connection is gone everything is refused.
class PostStream {
 public:
  explicit PostStream(bool sse) : sse_(sse) {}

  bool push(isb::mcp::Outgoing m) {
    std::lock_guard<std::mutex> lock(mu_);
    if (closed_ || (!sse_ && !m.is_response)) return false;
    messages_.push_back(std::move(m));
    cv_.notify_all();
    return true;
  }
  // Waits up to timeout for the next message; nullopt when none came.
  std::optional<isb::mcp::Outgoing> pop(std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> lock(mu_);
    if (!cv_.wait_for(lock, timeout, [this] { return !messages_.empty(); })) return std::nullopt;
    isb::mcp::Outgoing m = std::move(messages_.front());
    messages_.pop_front();
    return m;
  }
  // The connection is gone: later messages go elsewhere (or nowhere).
  void close() {
    std::lock_guard<std::mutex> lock(mu_);
    closed_ = true;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<isb::mcp::Outgoing> messages_;
  const bool sse_;
  bool closed_ = false;
};

// True when the peer has closed its end (a read would return 0).
bool peer_closed(int fd) {
  pollfd p{fd, POLLIN | POLLRDHUP, 0};
  if (poll(&p, 1, 0) <= 0) return false;
  if (p.revents & (POLLRDHUP | POLLHUP | POLLERR)) return true;
  char c;
  return recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT) == 0;
}

class HttpTransport : public isb::sdk::Transport {
 public:
  static isb::sdk::PluginInfo info() {
    return {"mcp-http",
            "MCP over Streamable HTTP",
            "0.1.0",
            "Model Context Protocol server on HTTP: one endpoint /mcp (POST JSON or SSE, DELETE), sessions, "
            "Host/Origin checks, API keys and rate limits through the core",
            kConfigSchema.c_str(),
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
    if (auto* h = c.if_contains("api_key_header"); h && h->is_string() && !h->as_string().empty())
      api_key_header_ = std::string(h->as_string());
    port_ = static_cast<int>(integer("port", 8080));
    max_connections_ = static_cast<size_t>(integer("max_connections", 512));
    max_sessions_ = static_cast<size_t>(integer("max_sessions", 1024));
    max_sessions_per_key_ = static_cast<size_t>(integer("max_sessions_per_key", 64));
    idle_timeout_ = std::chrono::seconds(integer("session_idle_timeout_s", 3600));
    max_message_bytes_ = static_cast<size_t>(integer("max_message_bytes", 64ll << 20));
    session_options_ = isb::mcp::session_options_from(c);
    if (auto* v = c.if_contains("standalone_sse"); v && v->is_bool()) standalone_sse_ = v->as_bool();
    replay_events_ = static_cast<size_t>(integer("sse_replay_events", 512));
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
    std::shared_ptr<isb::mcp::SessionStream> stream;  // GET /mcp; outlives the session
    std::unique_ptr<isb::mcp::McpSession> session;
    std::string principal;  // the key that created it; no other may use it
    std::atomic<int64_t> last_used_ms{0};
    //! Order of last use among all sessions (ties in milliseconds are common):
    //! the least recently used idle session is the one evicted.
    std::atomic<uint64_t> last_used_order{0};
    //! HTTP requests (POST, GET stream) using the session now. Raised only
    //! under sessions_mu_, so a session found idle there stays idle while the
    //! lock is held and can be ended safely.
    std::atomic<int> busy{0};
  };
  //! One request's use of a session; keeps it from being evicted meanwhile.
  class SessionUse {
   public:
    SessionUse() = default;
    explicit SessionUse(std::shared_ptr<SessionEntry> e) : entry_(std::move(e)) {}
    SessionUse(SessionUse&& o) noexcept : entry_(std::move(o.entry_)) {}
    SessionUse& operator=(SessionUse&& o) noexcept {
      release();
      entry_ = std::move(o.entry_);
      return *this;
    }
    ~SessionUse() { release(); }
    SessionEntry* operator->() const { return entry_.get(); }
    SessionEntry& operator*() const { return *entry_; }
    explicit operator bool() const { return entry_ != nullptr; }

   private:
    void release() {
      if (entry_) --entry_->busy;
      entry_.reset();
    }
    std::shared_ptr<SessionEntry> entry_;
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
    // Two Host (or Origin) headers could be read differently by a proxy in
    // front and by this server, which reads the first: refuse the request.
    for (auto [field, name] :
         {std::pair{http::field::host, "Host"}, std::pair{http::field::origin, "Origin"}}) {
      if (req.count(field) > 1) {
        return send(text_response(http::status::bad_request, req.version(),
                                  std::string("the request has ") + std::to_string(req.count(field)) + " " +
                                      name + " headers; send exactly one"));
      }
    }
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
    // The configured header carries the key as it is; Authorization carries
    // "Bearer <key>" (also when it is the configured header).
    std::string credential;
    if (!beast::iequals(api_key_header_, "Authorization")) credential = std::string(req[api_key_header_]);
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
      ctx.client_address = peer.c_str();
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
      if (!standalone_sse_) {
        Response res = text_response(http::status::method_not_allowed, req.version(),
                                     "this server is configured without the GET stream (standalone_sse: "
                                     "false); POST requests to /mcp");
        res.set(http::field::allow, "POST, DELETE");
        return send(std::move(res));
      }
      return handle_get(socket, req, session_id, principal);
    }
    if (req.method() == http::verb::delete_) {
      if (session_id.empty()) {
        return send(text_response(http::status::bad_request, req.version(),
                                  "DELETE needs the Mcp-Session-Id header"));
      }
      std::shared_ptr<SessionEntry> entry;
      {
        std::lock_guard<std::mutex> lock(sessions_mu_);
        auto it = find_session_locked(session_id, principal);
        if (it != sessions_.end()) {
          entry = it->second;
          sessions_.erase(it);
        }
      }
      if (!entry)
        return send(text_response(http::status::not_found, req.version(), "unknown or ended session"));
      entry->stream->close();
      entry->session->shutdown();
      Response res{http::status::no_content, req.version()};
      res.prepare_payload();
      return send(std::move(res));
    }
    if (req.method() != http::verb::post) {
      Response res =
          text_response(http::status::method_not_allowed, req.version(), "use POST or DELETE on /mcp");
      res.set(http::field::allow, standalone_sse_ ? "GET, POST, DELETE" : "POST, DELETE");
      return send(std::move(res));
    }
    return handle_post(socket, req, session_id, credential, principal, peer);
  }

  bool handle_post(tcp::socket& socket, const Request& req, const std::string& session_id,
                   const std::string& credential, const std::string& principal, const std::string& peer) {
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

    SessionUse entry;
    std::string new_session_id;
    if (method == "initialize") {
      auto created = std::make_shared<SessionEntry>();
      new_session_id = random_session_id();
      created->principal = principal;
      created->stream = std::make_shared<isb::mcp::SessionStream>(replay_events_, 4u << 20);
      // Messages with no request stream left go to the GET stream; the
      // session never sends responses there.
      created->session = std::make_unique<isb::mcp::McpSession>(
          host_, "mcp-http",
          [stream = created->stream](isb::mcp::Outgoing m) {
            if (m.is_response) return false;
            stream->push(std::move(m.text));
            return true;
          },
          session_options_, new_session_id);
      std::shared_ptr<SessionEntry> evicted;
      std::optional<Response> refusal;
      {
        std::lock_guard<std::mutex> lock(sessions_mu_);
        refusal = make_room_locked(principal, req.version(), evicted);
        if (!refusal) {
          ++created->busy;
          sessions_[new_session_id] = created;
          entry = SessionUse(created);
        }
      }
      if (evicted) {
        evicted->stream->close();
        evicted->session->shutdown();
      }
      if (refusal) return send(std::move(*refusal));
    } else {
      if (session_id.empty()) {
        return send(
            rpc_error_response(http::status::bad_request, req.version(), isb::mcp::kInvalidRequest,
                               "Bad Request: Mcp-Session-Id header is required; send initialize first"));
      }
      entry = use_session(session_id, principal);
      if (!entry) {
        return send(rpc_error_response(http::status::not_found, req.version(), isb::mcp::kInvalidRequest,
                                       "Session not found: it ended or never existed; initialize a new one"));
      }
    }
    touch(*entry);

    // Only tools/call streams: everything else answers at once, as JSON.
    bool sse = method == "tools/call" && accepts_sse;
    auto stream = std::make_shared<PostStream>(sse);
    isb::mcp::Origin origin;
    origin.writer = [stream](isb::mcp::Outgoing m) { return stream->push(std::move(m)); };
    origin.credential = credential;
    origin.principal = principal;
    origin.admitted = true;
    origin.client_address = peer;
    int expected = entry->session->handle_text(req.body(), origin);
    auto add_session_header = [&](auto& res) {
      if (!new_session_id.empty()) res.set("Mcp-Session-Id", new_session_id);
    };
    if (expected == 0) {
      stream->close();
      Response res{http::status::accepted, req.version()};
      add_session_header(res);
      res.prepare_payload();
      return send(std::move(res));
    }

    // Waits for the next message; nullopt once the client has gone (the
    // stream is then closed, so the session sends notifications to the GET
    // stream) or the server stops.
    auto next = [&]() -> std::optional<isb::mcp::Outgoing> {
      for (;;) {
        if (auto m = stream->pop(std::chrono::milliseconds(200))) return m;
        if (stopping_ || peer_closed(socket.native_handle())) {
          stream->close();
          return std::nullopt;
        }
      }
    };
    if (sse) {
      // SSE: progress and log notifications first, then the response.
      http::response<http::empty_body> head{http::status::ok, req.version()};
      head.set(http::field::content_type, "text/event-stream");
      head.set(http::field::cache_control, "no-cache");
      add_session_header(head);
      head.chunked(true);
      head.keep_alive(req.keep_alive());
      http::response_serializer<http::empty_body> sr{head};
      http::write_header(socket, sr, ec);
      if (ec) {
        stream->close();
        return false;
      }
      for (;;) {
        auto m = next();
        if (!m) return false;
        std::string event = "event: message\ndata: " + m->text + "\n\n";
        asio::write(socket, http::make_chunk(asio::buffer(event)), ec);
        if (ec) {
          // Too late for this message; later notifications take the GET stream.
          stream->close();
          if (!m->is_response) entry->stream->push(std::move(m->text));
          return false;
        }
        if (m->is_response) break;
      }
      asio::write(socket, http::make_chunk_last(), ec);
      return !ec;
    }
    // JSON: the response alone; notifications went to the GET stream.
    auto m = next();
    if (!m) return false;
    Response res{http::status::ok, req.version()};
    res.set(http::field::content_type, "application/json");
    add_session_header(res);
    res.body() = std::move(m->text);
    res.prepare_payload();
    return send(std::move(res));
  }

  // GET /mcp: the session's own SSE stream until the client leaves, the
  // session ends or the server stops.
  bool handle_get(tcp::socket& socket, const Request& req, const std::string& session_id,
                  const std::string& principal) {
    boost::system::error_code ec;
    auto send = [&](Response res) {
      res.keep_alive(req.keep_alive());
      http::write(socket, res, ec);
      return !ec;
    };
    if (session_id.empty()) {
      return send(
          rpc_error_response(http::status::bad_request, req.version(), isb::mcp::kInvalidRequest,
                             "Bad Request: Mcp-Session-Id header is required; send initialize first"));
    }
    if (req[http::field::accept].find("text/event-stream") == std::string_view::npos) {
      return send(text_response(http::status::not_acceptable, req.version(),
                                "GET /mcp opens an event stream: send Accept: text/event-stream"));
    }
    SessionUse entry = use_session(session_id, principal);
    if (!entry) {
      return send(rpc_error_response(http::status::not_found, req.version(), isb::mcp::kInvalidRequest,
                                     "Session not found: it ended or never existed; initialize a new one"));
    }
    std::string_view last_id = req["Last-Event-ID"];
    std::optional<uint64_t> after = entry->stream->resume_point(last_id);
    if (!after) {
      return send(text_response(http::status::bad_request, req.version(),
                                "Last-Event-ID '" + std::string(last_id) +
                                    "' is not an event id of this session's stream; reconnect without it"));
    }
    if (!entry->stream->attach()) {
      return send(text_response(http::status::conflict, req.version(),
                                "this session already has a GET stream open; close it first"));
    }
    struct Detach {
      isb::mcp::SessionStream& s;
      ~Detach() { s.detach(); }
    } detach{*entry->stream};
    http::response<http::empty_body> head{http::status::ok, req.version()};
    head.set(http::field::content_type, "text/event-stream");
    head.set(http::field::cache_control, "no-cache");
    head.chunked(true);
    head.keep_alive(req.keep_alive());
    http::response_serializer<http::empty_body> sr{head};
    http::write_header(socket, sr, ec);
    if (ec) return false;
    uint64_t last = *after;
    auto last_write = std::chrono::steady_clock::now();
    for (;;) {
      touch(*entry);
      // Short waits: a client that left must free the stream soon, so that
      // its reconnection (with Last-Event-ID) is not refused as a second one.
      auto batch = entry->stream->wait_after(last, std::chrono::milliseconds(250), stopping_);
      if (!batch) break;  // session ended or server stopping
      std::string out;
      if (batch->empty()) {
        if (peer_closed(socket.native_handle())) return false;
        if (std::chrono::steady_clock::now() - last_write < kKeepAliveEvery) continue;
        out = ": keep-alive\n\n";
      } else {
        for (auto& e : *batch) {
          out += "id: " + std::to_string(e.id) + "\nevent: message\ndata: " + e.data + "\n\n";
          last = e.id;
        }
      }
      asio::write(socket, http::make_chunk(asio::buffer(out)), ec);
      if (ec) return false;  // the client left; it may resume with Last-Event-ID
      last_write = std::chrono::steady_clock::now();
    }
    asio::write(socket, http::make_chunk_last(), ec);
    return false;
  }

  // The session with this id if it belongs to principal, else end(): a
  // session of another key must look exactly like one that does not exist.
  std::map<std::string, std::shared_ptr<SessionEntry>>::iterator find_session_locked(
      const std::string& id, const std::string& principal) {
    auto it = sessions_.find(id);
    if (it == sessions_.end() || it->second->principal == principal) return it;
    host_.warn("a request of " + principal + " named a session of " + it->second->principal + " (id " +
               id.substr(0, 8) + "...); answered 404");
    return sessions_.end();
  }

  //! The session for one request of principal, marked busy; empty when
  //! there is no such session of principal.
  SessionUse use_session(const std::string& id, const std::string& principal) {
    std::lock_guard<std::mutex> lock(sessions_mu_);
    auto it = find_session_locked(id, principal);
    if (it == sessions_.end()) return {};
    ++it->second->busy;
    return SessionUse(it->second);
  }

  void touch(SessionEntry& e) {
    e.last_used_ms = now_ms();
    e.last_used_order = ++use_clock_;
  }

  static bool idle(const SessionEntry& e) { return e.busy == 0 && e.session->in_flight() == 0; }

  // Makes room for one more session of principal: under its cap, and the
  // server under its own, evicting one idle session where needed (taken out
  // of sessions_ into evicted, for the caller to end outside the lock). The
  // refusal to send when no session could be evicted; nullopt when there is
  // room. sessions_mu_ held.
  std::optional<Response> make_room_locked(const std::string& principal, unsigned version,
                                           std::shared_ptr<SessionEntry>& evicted) {
    struct Held {
      size_t count = 0;
      std::map<std::string, std::shared_ptr<SessionEntry>>::iterator oldest_idle;
      bool has_idle = false;
    };
    std::map<std::string, Held> by_principal;
    for (auto it = sessions_.begin(); it != sessions_.end(); ++it) {
      Held& h = by_principal[it->second->principal];
      ++h.count;
      if (idle(*it->second) &&
          (!h.has_idle || it->second->last_used_order < h.oldest_idle->second->last_used_order)) {
        h.oldest_idle = it;
        h.has_idle = true;
      }
    }
    auto evict = [&](const Held& h) {
      host_.info("session cap: ended the idle session " + h.oldest_idle->first.substr(0, 8) + "... of " +
                 h.oldest_idle->second->principal + " to make room for a new one of " + principal);
      evicted = h.oldest_idle->second;
      sessions_.erase(h.oldest_idle);
      return std::nullopt;
    };
    const Held& own = by_principal[principal];
    if (own.count >= max_sessions_per_key_) {
      if (own.has_idle) return evict(own);
      Response res =
          text_response(http::status::too_many_requests, version,
                        "this API key already has " + std::to_string(own.count) +
                            " sessions open, the most one key may have (" +
                            "max_sessions_per_key: " + std::to_string(max_sessions_per_key_) +
                            "), and none is idle; end one with DELETE /mcp, or wait for a call to finish");
      res.set(http::field::retry_after, "5");
      return res;
    }
    if (sessions_.size() < max_sessions_) return std::nullopt;
    // The server is full: the principal holding the most sessions gives one
    // up (the caller on a tie), so that a busy key cannot starve the others.
    const Held* victim = nullptr;
    for (const auto& [p, h] : by_principal) {
      if (!h.has_idle) continue;
      if (!victim || h.count > victim->count || (h.count == victim->count && p == principal)) victim = &h;
    }
    if (victim) return evict(*victim);
    Response res = text_response(http::status::service_unavailable, version,
                                 "the server has its maximum of " + std::to_string(max_sessions_) +
                                     " sessions (max_sessions) and none is idle; retry later, or end unused "
                                     "sessions with DELETE /mcp");
    res.set(http::field::retry_after, "5");
    return res;
  }

  void expire_idle_sessions() {
    int64_t limit = now_ms() - std::chrono::duration_cast<std::chrono::milliseconds>(idle_timeout_).count();
    std::vector<std::shared_ptr<SessionEntry>> expired;
    {
      std::lock_guard<std::mutex> lock(sessions_mu_);
      for (auto it = sessions_.begin(); it != sessions_.end();) {
        if (it->second->last_used_ms < limit && idle(*it->second)) {
          expired.push_back(it->second);
          it = sessions_.erase(it);
        } else {
          ++it;
        }
      }
    }
    for (auto& e : expired) {
      e->stream->close();
      e->session->shutdown();
    }
  }

  isb::sdk::Host host_;
  std::string bind_host_ = "127.0.0.1";
  std::string api_key_header_ = "X-API-Key";  // mcp_config.json authentication.header
  int port_ = 8080;
  size_t max_connections_ = 512;
  size_t max_sessions_ = 1024;
  size_t max_sessions_per_key_ = 64;
  std::chrono::seconds idle_timeout_{3600};
  size_t max_message_bytes_ = 64u << 20;
  isb::mcp::SessionOptions session_options_;
  bool standalone_sse_ = true;
  size_t replay_events_ = 512;
  std::unique_ptr<isb::mcp::OriginPolicy> policy_;
  int stop_pipe_[2] = {-1, -1};
  std::atomic<bool> stopping_{false};

  std::mutex conn_mu_;
  std::condition_variable conn_done_;
  size_t connections_ = 0;
  std::set<int> open_fds_;

  std::mutex sessions_mu_;
  std::map<std::string, std::shared_ptr<SessionEntry>> sessions_;
  std::atomic<uint64_t> use_clock_{0};
};

}  // namespace

ISB_PLUGIN(HttpTransport)
