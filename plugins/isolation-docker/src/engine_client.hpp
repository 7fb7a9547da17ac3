// engine_client.hpp: HTTP/1.1 to the Docker Engine API over a Unix socket or
// TCP, with Boost.Beast. Never the docker CLI.
//
//   EngineClient engine("unix:///var/run/docker.sock", std::chrono::seconds(30), std::nullopt);
//   auto r = engine.request("GET", "/info");     // sent as GET /v1.52/info to Docker 29.0
//   if (r.status != 200) throw ...(engine_message(r.body));
//
// Every request goes to the API version negotiated from the engine's
// unversioned GET /version (api_version.hpp): the first request negotiates,
// and callers pass unversioned paths, so no request can carry another version.
// An engine that refuses that version later (it was replaced by one of
// another range under the running server) fails that request with a message
// saying so, and the next request negotiates again.
// Every call opens its own connection and is bounded by a deadline, so a hung
// engine costs a timeout, never a hung server thread.
// THREADING: every member function may be called from several threads at
// once (the negotiation is guarded by a mutex). A RawStream belongs to the
// thread that uses it.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "api_version.hpp"

namespace isb::docker {

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

  //! The outcome of one negotiation.
  struct Negotiated {
    EngineVersion engine;     //!< what the engine's /version said
    ApiVersion api;           //!< the version every request carries
    uint64_t generation = 0;  //!< 1 for the first negotiation, then counts re-negotiations
  };

  //! host: unix:///path or tcp://host:port; forced_api: the configured
  //! api_version (plugins.settings.docker), nullopt to negotiate the newest
  //! both sides speak. Throws Error(ISB_INVALID_CONFIG) when host is malformed.
  EngineClient(std::string host, std::chrono::milliseconds default_timeout,
               std::optional<ApiVersion> forced_api);
  ~EngineClient();

  //! Negotiates unless that is done: GET /version (unversioned), then
  //! select_api_version(). Returns the negotiation in force. Throws
  //! Error(ISB_UNAVAILABLE) when the engine does not answer or no version
  //! fits both sides (the message says what each side speaks).
  Negotiated negotiate() const;
  //! The negotiation in force; nullopt before the first one and after the
  //! engine refused the negotiated version.
  std::optional<Negotiated> negotiated() const;
  //! What the last /version answer said, also when no version fitted (for the probe).
  std::optional<EngineVersion> last_engine_version() const;

  const std::string& host() const { return host_; }
  bool is_local() const { return is_unix_; }
  bool api_forced() const { return forced_api_.has_value(); }

  //! One request to the Engine API with an optional body (JSON unless
  //! content_type says otherwise). path is unversioned ("/containers/json?all=1");
  //! it is sent as "/v<negotiated>" + path, negotiating first when needed.
  //! timeout 0: the default. Throws Error(ISB_UNAVAILABLE) when the engine
  //! cannot be reached, the deadline passes, no version fits, or the engine
  //! refuses the negotiated version (then the next request negotiates again).
  Response request(const std::string& method, const std::string& path, const std::string& body = "",
                   std::chrono::milliseconds timeout = std::chrono::milliseconds(0),
                   const std::string& content_type = "application/json") const;

  //! POSTs json_body to the unversioned path (versioned as request() does)
  //! asking for a connection upgrade and returns the raw stream, or sets
  //! *error_response (and returns nullptr) when the engine answered with an
  //! error status. Throws as request() does.
  std::unique_ptr<RawStream> hijack(const std::string& path, const std::string& json_body,
                                    Response* error_response) const;

 private:
  //! One HTTP exchange with the target as given (no version prefix).
  Response exchange(const std::string& method, const std::string& target, const std::string& body,
                    std::chrono::milliseconds timeout, const std::string& content_type) const;
  //! The versioned target of path, negotiating first when needed; *generation
  //! receives the negotiation it belongs to.
  std::string versioned(const std::string& path, uint64_t* generation) const;
  //! After the engine answered `r` to a request of negotiation `generation`:
  //! when that answer refuses the API version, drops the negotiation and
  //! throws Error(ISB_UNAVAILABLE) saying so.
  void check_version_refusal(const Response& r, const std::string& method, const std::string& path,
                             uint64_t generation) const;

  std::string host_;
  bool is_unix_ = true;
  std::string unix_path_;
  std::string tcp_host_;
  std::string tcp_port_;
  std::chrono::milliseconds default_timeout_;
  const std::optional<ApiVersion> forced_api_;
  mutable std::mutex negotiate_mu_;  // held across a negotiation, so only one runs at a time
  mutable std::mutex mu_;            // guards the members below
  mutable std::optional<Negotiated> negotiated_;
  mutable std::optional<EngineVersion> last_engine_;
  mutable uint64_t generations_ = 0;
};

//! Percent-encodes a query parameter value.
std::string url_encode(const std::string& s);

//! The "message" of an engine error body, or the body itself when it has none.
std::string engine_message(const std::string& body);

}  // namespace isb::docker
