// mcp_session.hpp: one MCP session over any framing. The transport feeds it
// complete JSON-RPC messages and gives it a writer for outgoing ones; the
// session answers initialize, ping, tools/list and tools/call (run on worker
// threads so that several calls are in flight at once), honours
// notifications/cancelled and turns operation events into
// notifications/progress when the request carries a progress token.
//
//   McpSession session(host, "mcp-stdio", [&](const json::object& m) { write_line(m); });
//   session.handle_text(line);
//   ...
//   session.shutdown();  // cancels in-flight calls and waits for them
//
// Threading: handle_text() and shutdown() are thread-safe. The writer is called
// from several threads and must serialize writes itself.
#pragma once

#include <isb/sdk/plugin.hpp>

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <atomic>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

namespace isb::mcp {

//! Protocol revisions this server speaks, newest first.
inline constexpr const char* kSupportedVersions[] = {"2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05"};

class McpSession {
 public:
  using Writer = std::function<void(const boost::json::object& message)>;

  McpSession(isb::sdk::Host host, std::string transport_id, Writer writer);
  ~McpSession();
  McpSession(const McpSession&) = delete;
  McpSession& operator=(const McpSession&) = delete;

  //! Handles one complete message (a line for stdio). Malformed JSON is
  //! answered with -32700 and id null; the session keeps serving.
  void handle_text(std::string_view text);

  //! Cancels every call in flight and waits until they have all answered.
  void shutdown();

  //! Number of tools/call requests still running.
  size_t in_flight() const;

 private:
  struct Call {
    std::atomic<bool> cancelled{false};
  };

  void handle_request(const boost::json::value& id, const std::string& method, const boost::json::object& params);
  void handle_notification(const std::string& method, const boost::json::object& params);
  boost::json::object initialize(const boost::json::object& params);
  std::optional<boost::json::array> tools();
  void start_tool_call(const boost::json::value& id, const boost::json::object& params);
  void run_tool_call(boost::json::value id, std::string name, boost::json::object args,
                     std::optional<boost::json::value> progress_token, std::shared_ptr<Call> call);
  void send(const boost::json::object& message);

  isb::sdk::Host host_;
  std::string transport_id_;
  Writer writer_;

  std::mutex tools_mu_;
  std::optional<boost::json::array> tools_;  // MCP-shaped catalogue, built once
  std::map<std::string, bool> tool_names_;

  mutable std::mutex calls_mu_;
  std::condition_variable calls_done_;
  std::map<std::string, std::shared_ptr<Call>> calls_;  // by id_key
  size_t running_ = 0;
  std::atomic<bool> shutting_down_{false};
  std::atomic<bool> initialized_{false};
};

}  // namespace isb::mcp
