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

EngineClient::EngineClient(std::string host, std::chrono::milliseconds default_timeout)
    : host_(std::move(host)), default_timeout_(default_timeout) {
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

EngineClient::Response EngineClient::request(const std::string& method, const std::string& target,
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

std::unique_ptr<RawStream> EngineClient::hijack(const std::string& target, const std::string& json_body,
                                                Response* error_response) const {
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
    if (error_response) {
      error_response->status = status;
      error_response->body = parser.get().body();
    }
    return nullptr;
  }
  // Whatever the header read pulled in beyond the header is the start of the stream.
  std::string initial(static_cast<const char*>(buffer.data().data()), buffer.data().size());
  return std::make_unique<BeastRawStream>(std::move(io), std::move(sock), std::move(initial));
}

std::string EngineClient::negotiate(const std::string& forced) {
  Response r = request("GET", "/version");
  if (r.status != 200) {
    unavailable("the Docker engine at " + host_ + " answered GET /version with " + std::to_string(r.status) +
                ": " + engine_message(r.body));
  }
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(r.body, ec);
  if (ec || !v.is_object())
    unavailable("the Docker engine at " + host_ + " sent an unreadable /version document");
  std::string engine_api = string_at(v.as_object(), "ApiVersion");
  int minor = -1;
  if (engine_api.rfind("1.", 0) == 0) minor = std::atoi(engine_api.c_str() + 2);
  if (minor < kMinApiMinor) {
    unavailable("the Docker engine at " + host_ + " speaks API " + (engine_api.empty() ? "?" : engine_api) +
                ", older than 1.41 (Docker 20.10), the oldest this backend supports; upgrade the engine");
  }
  if (!forced.empty()) {
    if (std::atoi(forced.c_str() + 2) > minor) {
      unavailable("plugins.settings.docker.api_version " + forced + " is newer than the engine's API " +
                  engine_api);
    }
    api_version_ = forced;
  } else {
    api_version_ = "1." + std::to_string(std::min(minor, kMaxApiMinor));
  }
  return r.body;
}

}  // namespace isb::docker
