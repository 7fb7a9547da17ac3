// event_forwarder.hpp: turns the events of operation calls (plugin_abi.h,
// isb_event_sink) into MCP notifications: command output becomes
// notifications/message (logger "execution"; stdout at level info, stderr at
// warning) when the session's log level lets it through, progress becomes
// notifications/progress for the request's progress token, with progress
// strictly increasing across every call the forwarder serves.
//
//   EventForwarder forward(min_log_rank, token, /*task_id=*/"", [&](json::object n) { send(n); });
//   host.call_operation(name, args, ctx, std::ref(forward), ...);
//
// With a task id, every notification carries the task in
// _meta["io.modelcontextprotocol/related-task"].
//
// Threading: operator() is called by one call at a time (the ABI never calls
// on_event concurrently for one call; a task's calls follow one another);
// last_progress_message() may be read from any thread.
#pragma once

#include <atomic>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

namespace isb::mcp {

//! The _meta key that ties a message to a task (MCP 2025-11-25).
inline constexpr const char* kRelatedTaskMeta = "io.modelcontextprotocol/related-task";

class EventForwarder {
 public:
  using Send = std::function<void(boost::json::object notification)>;

  //! min_log_rank: the session's level (log_level_rank); must outlive this.
  EventForwarder(const std::atomic<int>& min_log_rank, std::optional<boost::json::value> progress_token,
                 std::string task_id, Send send);

  //! One event document from the host.
  void operator()(std::string_view event_json);

  //! The message of the latest progress event ("" before the first).
  std::string last_progress_message() const;

 private:
  void send(const std::string& method, boost::json::object params);

  const std::atomic<int>& min_log_rank_;
  const std::optional<boost::json::value> progress_token_;
  const std::string task_id_;
  const Send send_;
  double last_progress_ = -1;
  mutable std::mutex message_mu_;
  std::string last_message_;
};

}  // namespace isb::mcp
