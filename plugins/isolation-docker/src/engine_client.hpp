// engine_client.hpp: HTTP/1.1 to the Docker Engine API over a Unix socket or
// TCP, with Boost.Beast. Never the docker CLI.
//
//   EngineClient engine("unix:///var/run/docker.sock", std::chrono::seconds(30));
//   engine.negotiate("");                       // picks the API version from /version
//   auto r = engine.request("GET", engine.path("/info"));
//   if (r.status != 200) throw ...(engine_message(r.body));
//
// Every call opens its own connection and is bounded by a deadline, so a hung
// engine costs a timeout, never a hung server thread.
// THREADING: request() and hijack() may be called from several threads at once;
// negotiate() must have returned before they are. A RawStream belongs to the
// thread that uses it.
#pragma once

#include <chrono>
#include <memory>
#include <string>

namespace isb::docker {

//! The oldest Engine API version this backend speaks (Docker 20.10).
constexpr int kMinApiMinor = 41;
//! The newest version it asks for; newer engines answer it unchanged.
constexpr int kMaxApiMinor = 43;

//! A hijacked connection (exec start): raw bytes both ways after the HTTP
//! response header. Not thread-safe.
class RawStream {
 public:
  enum class ReadResult { kData, kTimeout, kEof };
  virtual ~RawStream() = default;
  //! Appends what arrives within `wait` to out. kEof once the engine closed its side.
  virtual ReadResult read_some(std::string& out, std::chrono::milliseconds wait) = 0;
  //! Sends data in the background while read_some() runs, then closes the
  //! sending side, which is how the engine learns that stdin ended.
  virtual void start_stdin(std::string data) = 0;
  //! Drops the connection (the engine then stops streaming, the command keeps running).
  virtual void close() = 0;
};

class EngineClient {
 public:
  struct Response {
    int status = 0;
    std::string body;
  };

  //! host: unix:///path or tcp://host:port. Throws Error(ISB_INVALID_CONFIG) when malformed.
  EngineClient(std::string host, std::chrono::milliseconds default_timeout);
  ~EngineClient();

  //! Reads /version and fixes the API version: `forced` if not empty, else the
  //! engine's own capped at kMaxApiMinor. Throws Error(ISB_UNAVAILABLE) when the
  //! engine does not answer or is older than 1.41. Returns the /version document.
  std::string negotiate(const std::string& forced);

  //! "/v1.41" + p once negotiated.
  std::string path(const std::string& p) const { return "/v" + api_version_ + p; }
  const std::string& api_version() const { return api_version_; }
  const std::string& host() const { return host_; }
  bool is_local() const { return is_unix_; }

  //! One request with an optional body (JSON unless content_type says
  //! otherwise). timeout 0: the default. Throws Error(ISB_UNAVAILABLE) when the
  //! engine cannot be reached or the deadline passes.
  Response request(const std::string& method, const std::string& target, const std::string& body = "",
                   std::chrono::milliseconds timeout = std::chrono::milliseconds(0),
                   const std::string& content_type = "application/json") const;

  //! POSTs json_body to target asking for a connection upgrade and returns the
  //! raw stream, or sets *error_response (and returns nullptr) when the engine
  //! answered with an error status.
  std::unique_ptr<RawStream> hijack(const std::string& target, const std::string& json_body,
                                    Response* error_response) const;

 private:
  std::string host_;
  bool is_unix_ = true;
  std::string unix_path_;
  std::string tcp_host_;
  std::string tcp_port_;
  std::chrono::milliseconds default_timeout_;
  std::string api_version_ = "1.41";
};

//! Percent-encodes a query parameter value.
std::string url_encode(const std::string& s);

//! The "message" of an engine error body, or the body itself when it has none.
std::string engine_message(const std::string& body);

}  // namespace isb::docker
