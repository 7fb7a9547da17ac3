// client_roots.hpp: the roots an MCP client offers for a session (the
// client's "roots" capability). The server asks with roots/list once the
// client is initialized and again on notifications/roots/list_changed; every
// call then carries the answer to the core (isb_request_ctx.client_roots_json),
// which allows create_workspace sources only beneath those directories.
//
//   ClientRoots roots(host, "mcp-stdio", [&](const json::object& req) { send(req); });
//   roots.set_offered(caps.contains("roots"));   // initialize
//   roots.request();                             // notifications/initialized, list_changed
//   roots.on_response(msg);                      // a response from the client
//   ctx.client_roots_json = roots.for_call();    // each call: waits while a request is unanswered
//
// Entries that are not file:// URIs of existing directories are ignored, each
// with a log line. A client that offered roots but does not answer (within
// the bound) or answers with an error gets every source refused, with the
// reason (fail closed): the core never falls back to wider defaults for it.
//
// Threading: thread-safe. for_call() blocks for at most the answer bound.
#pragma once

#include <boost/json/object.hpp>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <isb/sdk/plugin.hpp>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace isb::mcp {

//! The absolute, percent-decoded path a file:// URI names ("file:///p" or
//! "file://localhost/p"); nullopt for another scheme or host, a query or
//! fragment, a relative path, an encoded NUL or a bad escape.
std::optional<std::string> path_from_file_uri(std::string_view uri);

class ClientRoots {
 public:
  //! Hands one JSON-RPC request to the client (on the session's own stream).
  using Send = std::function<void(const boost::json::object& request)>;

  //! label names the session in log lines.
  ClientRoots(isb::sdk::Host host, std::string label, Send send,
              std::chrono::milliseconds answer_bound = std::chrono::seconds(10));
  ClientRoots(const ClientRoots&) = delete;
  ClientRoots& operator=(const ClientRoots&) = delete;

  //! From initialize: whether the client declared the roots capability.
  void set_offered(bool offered);
  //! Sends roots/list (again); earlier unanswered requests no longer count.
  //! Nothing when the client did not offer roots.
  void request();
  //! A JSON-RPC response from the client. True when it answers a roots/list
  //! request of this session (then it is consumed here, stale or not).
  bool on_response(const boost::json::object& message);
  //! isb_request_ctx.client_roots_json for a call: "" when the client offered
  //! no roots; else {"roots":[...]} or {"roots":[],"error":"..."}. Asks
  //! first if nobody has asked yet, and waits up to the bound while the
  //! latest request is unanswered.
  std::string for_call();
  //! Ends every wait (session shutdown); for_call() no longer waits.
  void close();

 private:
  //! The request to send for the next generation; caller holds mu_.
  boost::json::object next_request_locked();
  void accept_roots(const boost::json::object& result, std::vector<std::string>& dirs) const;

  isb::sdk::Host host_;
  const std::string label_;
  const Send send_;
  const std::chrono::milliseconds answer_bound_;

  std::mutex mu_;
  std::condition_variable answered_;
  bool offered_ = false;
  bool closed_ = false;
  uint64_t generation_ = 0;  // of the latest roots/list sent; 0: never asked
  bool pending_ = false;     // the latest request is unanswered
  std::chrono::steady_clock::time_point asked_at_{};
  std::vector<std::string> directories_;  // from the latest answer
  std::string error_;                     // why the latest answer gave no list
};

}  // namespace isb::mcp
