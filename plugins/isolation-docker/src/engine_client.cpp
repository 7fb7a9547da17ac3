// engine_client.cpp: see engine_client.hpp. All Boost.Asio/Beast code of the
// plugin lives here so the rest compiles without it.
#include "engine_client.hpp"

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <isb/sdk/plugin.hpp>
#include <optional>

#include "isolation-common/json_fields.hpp"

namespace isb::docker {

using isolation::string_at;
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using Socket = asio::generic::stream_protocol::socket;
using Clock = std::chrono::steady_clock;

// Engine list responses (containers, images) can be large; events are not read here.
constexpr uint64_t kMaxBodyBytes = 64ull << 20;

[[noreturn]] void unavailable(const std::string& message) { throw sdk::Error(ISB_UNAVAILABLE, message); }

//! Runs io until *done or the deadline; on the deadline closes the socket so
//! the pending operation completes, and returns false.
bool run_until(asio::io_context& io, Socket& sock, const bool& done, Clock::time_point deadline) {
  io.restart();
  while (!done) {
    if (io.run_one_until(deadline) == 0 && !done) {
      boost::system::error_code ignored;
      sock.close(ignored);
      io.restart();
      io.run();  // lets the aborted handler run, so nothing references the caller's stack
      return false;
    }
  }
  return true;
}

class BeastRawStream : public RawStream {
 public:
  BeastRawStream(std::unique_ptr<asio::io_context> io, std::unique_ptr<Socket> sock, std::string initial)
      : io_(std::move(io)), sock_(std::move(sock)), pending_(std::move(initial)) {}
  ~BeastRawStream() override { close(); }

  ReadResult read_some(std::string& out, std::chrono::milliseconds wait) override {
    if (!pending_.empty()) {
      out += pending_;
      pending_.clear();
      return ReadResult::kData;
    }
    if (eof_) return ReadResult::kEof;
    if (!read_in_flight_) {
      read_in_flight_ = true;
      read_done_ = false;
      sock_->async_read_some(asio::buffer(buf_), [this](boost::system::error_code ec, size_t n) {
        read_in_flight_ = false;
        read_done_ = true;
        if (n > 0) pending_.append(buf_.data(), n);
        if (ec) eof_ = true;  // EOF, reset or close(): the stream is over either way
      });
    }
    auto deadline = Clock::now() + wait;
    io_->restart();
    while (!read_done_ && Clock::now() < deadline) {
      if (io_->run_one_until(deadline) == 0) break;
    }
    if (!read_done_) return ReadResult::kTimeout;
    read_done_ = false;
    if (!pending_.empty()) {
      out += pending_;
      pending_.clear();
      return ReadResult::kData;
    }
    return eof_ ? ReadResult::kEof : ReadResult::kTimeout;
  }

  void start_stdin(std::string data) override {
    stdin_ = std::move(data);
    asio::async_write(*sock_, asio::buffer(stdin_), [this](boost::system::error_code ec, size_t) {
      if (!ec) {
        boost::system::error_code ignored;
        sock_->shutdown(asio::socket_base::shutdown_send, ignored);
      }
    });
  }

  void close() override {
    if (!sock_ || !sock_->is_open()) return;
    boost::system::error_code ignored;
    sock_->close(ignored);
    // Completes the aborted operations so their handlers do not outlive this object.
    io_->restart();
    io_->run();
  }

 private:
  std::unique_ptr<asio::io_context> io_;
  std::unique_ptr<Socket> sock_;
  std::string pending_;
  std::string stdin_;
  std::array<char, 65536> buf_{};
  bool read_in_flight_ = false;
  bool read_done_ = false;
  bool eof_ = false;
};

}  // namespace

std::string url_encode(const std::string& s) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
        c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

std::string engine_message(const std::string& body) {
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(body, ec);
  if (!ec && v.is_object()) {
    std::string m = string_at(v.as_object(), "message");
    if (!m.empty()) return m;
  }
  std::string trimmed = body.substr(0, 500);
  while (!trimmed.empty() && (trimmed.back() == '\n' || trimmed.back() == '\r')) trimmed.pop_back();
  return trimmed.empty() ? "(empty response)" : trimmed;
}

EngineClient::EngineClient(std::string host, std::chrono::milliseconds default_timeout,
                           std::optional<ApiVersion> forced_api)
    : host_(std::move(host)), default_timeout_(default_timeout), forced_api_(forced_api) {
  if (host_.rfind("unix://", 0) == 0) {
    unix_path_ = host_.substr(7);
    if (unix_path_.empty() || unix_path_[0] != '/') {
      throw sdk::Error(ISB_INVALID_CONFIG, "engine host '" + host_ + "' must name an absolute socket path");
    }
  } else if (host_.rfind("tcp://", 0) == 0) {
    is_unix_ = false;
    std::string rest = host_.substr(6);
    while (!rest.empty() && rest.back() == '/') rest.pop_back();
    auto colon = rest.rfind(':');
    if (colon == std::string::npos || colon == 0 || colon + 1 == rest.size()) {
      throw sdk::Error(ISB_INVALID_CONFIG, "engine host '" + host_ + "' must be tcp://HOST:PORT");
    }
    tcp_host_ = rest.substr(0, colon);
    tcp_port_ = rest.substr(colon + 1);
  } else {
    throw sdk::Error(ISB_INVALID_CONFIG, "engine host '" + host_ + "' must start with unix:// or tcp://");
  }
}

EngineClient::~EngineClient() = default;

namespace {

//! Opens a connection to the engine before the deadline, or throws.
std::unique_ptr<Socket> connect(asio::io_context& io, bool is_unix, const std::string& unix_path,
                                const std::string& tcp_host, const std::string& tcp_port,
                                const std::string& host, Clock::time_point deadline) {
  auto sock = std::make_unique<Socket>(io);
  boost::system::error_code ec;
  const std::string hint =
      "; start the engine (scripts/start-dockerd.sh) or point plugins.settings.docker.host / DOCKER_HOST at "
      "it";
  if (is_unix) {
    asio::local::stream_protocol::endpoint ep(unix_path);
    sock->connect(asio::generic::stream_protocol::endpoint(ep), ec);
    if (ec) unavailable("cannot reach the Docker engine at " + host + ": " + ec.message() + hint);
    return sock;
  }
  asio::ip::tcp::resolver resolver(io);
  auto results = resolver.resolve(tcp_host, tcp_port, ec);
  if (ec) unavailable("cannot resolve the Docker engine host " + host + ": " + ec.message() + hint);
  for (const auto& r : results) {
    bool done = false;
    sock = std::make_unique<Socket>(io);
    sock->async_connect(asio::generic::stream_protocol::endpoint(r.endpoint()),
                        [&](boost::system::error_code e) {
                          ec = e;
                          done = true;
                        });
    if (!run_until(io, *sock, done, deadline))
      unavailable("connecting to the Docker engine at " + host + " timed out");
    if (!ec) {
      sock->set_option(asio::ip::tcp::no_delay(true), ec);
      return sock;
    }
  }
  unavailable("cannot reach the Docker engine at " + host + ": " + ec.message() + hint);
}

http::request<http::string_body> make_request(const std::string& method, const std::string& target,
                                              const std::string& body,
                                              const std::string& content_type = "application/json") {
  http::verb verb = http::string_to_verb(method);
  http::request<http::string_body> req{verb, target, 11};
  req.set(http::field::host, "docker");
  req.set(http::field::user_agent, "intelligent-sandbox");
  if (!body.empty()) {
    req.set(http::field::content_type, content_type);
    req.body() = body;
  }
  req.prepare_payload();
  return req;
}

}  // namespace

EngineClient::Response EngineClient::request(const std::string& method, const std::string& path,
                                             const std::string& body, std::chrono::milliseconds timeout,
                                             const std::string& content_type) const {
  uint64_t generation = 0;
  std::string target = versioned(path, &generation);
  Response r = exchange(method, target, body, timeout, content_type);
  check_version_refusal(r, method, target, generation);
  return r;
}

EngineClient::Response EngineClient::exchange(const std::string& method, const std::string& target,
                                              const std::string& body, std::chrono::milliseconds timeout,
                                              const std::string& content_type) const {
  auto deadline = Clock::now() + (timeout.count() > 0 ? timeout : default_timeout_);
  asio::io_context io;
  auto sock = connect(io, is_unix_, unix_path_, tcp_host_, tcp_port_, host_, deadline);
  auto req = make_request(method, target, body, content_type);
  req.set(http::field::connection, "close");

  boost::system::error_code ec;
  bool done = false;
  http::async_write(*sock, req, [&](boost::system::error_code e, size_t) {
    ec = e;
    done = true;
  });
  if (!run_until(io, *sock, done, deadline)) {
    unavailable("the Docker engine at " + host_ + " did not accept " + method + " " + target + " in time");
  }
  if (ec) unavailable("sending " + method + " " + target + " to the Docker engine failed: " + ec.message());

  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(kMaxBodyBytes);
  done = false;
  http::async_read(*sock, buffer, parser, [&](boost::system::error_code e, size_t) {
    ec = e;
    done = true;
  });
  if (!run_until(io, *sock, done, deadline)) {
    unavailable("the Docker engine at " + host_ + " did not answer " + method + " " + target + " within " +
                std::to_string((timeout.count() > 0 ? timeout : default_timeout_).count()) + " ms");
  }
  if (ec) {
    unavailable("reading the Docker engine's answer to " + method + " " + target +
                " failed: " + ec.message() + " (did the engine restart?)");
  }
  Response r;
  r.status = static_cast<int>(parser.get().result_int());
  r.body = std::move(parser.get().body());
  return r;
}

std::unique_ptr<RawStream> EngineClient::hijack(const std::string& path, const std::string& json_body,
                                                Response* error_response) const {
  uint64_t generation = 0;
  const std::string target = versioned(path, &generation);
  auto deadline = Clock::now() + default_timeout_;
  auto io = std::make_unique<asio::io_context>();
  auto sock = connect(*io, is_unix_, unix_path_, tcp_host_, tcp_port_, host_, deadline);
  auto req = make_request("POST", target, json_body);
  req.set(http::field::connection, "Upgrade");
  req.set(http::field::upgrade, "tcp");

  boost::system::error_code ec;
  bool done = false;
  http::async_write(*sock, req, [&](boost::system::error_code e, size_t) {
    ec = e;
    done = true;
  });
  if (!run_until(*io, *sock, done, deadline))
    unavailable("the Docker engine did not accept POST " + target + " in time");
  if (ec) unavailable("sending POST " + target + " to the Docker engine failed: " + ec.message());

  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(kMaxBodyBytes);
  done = false;
  http::async_read_header(*sock, buffer, parser, [&](boost::system::error_code e, size_t) {
    ec = e;
    done = true;
  });
  if (!run_until(*io, *sock, done, deadline))
    unavailable("the Docker engine did not answer POST " + target + " in time");
  if (ec) unavailable("reading the Docker engine's answer to POST " + target + " failed: " + ec.message());

  int status = static_cast<int>(parser.get().result_int());
  if (status != 101 && status != 200) {
    // An error: the body is an ordinary JSON document.
    done = false;
    http::async_read(*sock, buffer, parser, [&](boost::system::error_code e, size_t) {
      ec = e;
      done = true;
    });
    run_until(*io, *sock, done, deadline);
    Response r{status, parser.get().body()};
    check_version_refusal(r, "POST", target, generation);
    if (error_response) *error_response = std::move(r);
    return nullptr;
  }
  // Whatever the header read pulled in beyond the header is the start of the stream.
  std::string initial(static_cast<const char*>(buffer.data().data()), buffer.data().size());
  return std::make_unique<BeastRawStream>(std::move(io), std::move(sock), std::move(initial));
}

EngineClient::Negotiated EngineClient::negotiate() const {
  std::lock_guard<std::mutex> one_at_a_time(negotiate_mu_);
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (negotiated_) return *negotiated_;
  }
  // Unversioned: every engine answers /version whatever versions it accepts.
  Response r = exchange("GET", "/version", "", std::chrono::milliseconds(0), "application/json");
  if (r.status != 200) {
    unavailable("the Docker engine at " + host_ + " answered GET /version with " + std::to_string(r.status) +
                ": " + engine_message(r.body) + "; is " + host_ + " a Docker engine?");
  }
  EngineVersion engine = parse_engine_version(r.body, host_);
  {
    std::lock_guard<std::mutex> lock(mu_);
    last_engine_ = engine;
  }
  ApiVersion api = select_api_version(engine, forced_api_, host_);
  std::lock_guard<std::mutex> lock(mu_);
  negotiated_ = Negotiated{std::move(engine), api, ++generations_};
  return *negotiated_;
}

std::optional<EngineClient::Negotiated> EngineClient::negotiated() const {
  std::lock_guard<std::mutex> lock(mu_);
  return negotiated_;
}

std::optional<EngineVersion> EngineClient::last_engine_version() const {
  std::lock_guard<std::mutex> lock(mu_);
  return last_engine_;
}

std::string EngineClient::versioned(const std::string& path, uint64_t* generation) const {
  Negotiated n = negotiate();
  *generation = n.generation;
  return "/v" + n.api.str() + path;
}

void EngineClient::check_version_refusal(const Response& r, const std::string& method,
                                         const std::string& target, uint64_t generation) const {
  if (r.status != 400) return;
  std::string message = engine_message(r.body);
  if (!is_api_version_refusal(message)) return;
  std::string was;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (negotiated_ && negotiated_->generation == generation) {
      was = "Docker " + negotiated_->engine.version + ", API up to " + negotiated_->engine.api.str();
      negotiated_.reset();  // the next request asks /version again
    }
  }
  unavailable("the Docker engine at " + host_ + " refused " + method + " " + target + ": \"" + message +
              "\". It is not the engine the API version was negotiated with" +
              (was.empty() ? std::string() : " (" + was + ")") +
              ": it was upgraded or restarted with another DOCKER_MIN_API_VERSION. The next call negotiates "
              "the version again; retry it");
}

}  // namespace isb::docker
