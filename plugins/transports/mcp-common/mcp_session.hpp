// mcp_session.hpp: one MCP session over any framing. The transport feeds it
// complete JSON-RPC messages and says where replies go; the session answers
// initialize, ping, tools/list (paginated), tools/call (run on a CallPool so
// that several calls are in flight at once), resources/list (paginated),
// resources/templates/list, resources/read, logging/setLevel and, for
// revision 2025-11-25, tasks/get, tasks/result, tasks/cancel and tasks/list
// (session_tasks.hpp), honours notifications/cancelled, and turns operation
// events into notifications/progress (when the request carries a progress
// token) and notifications/message (command output, from level info until
// logging/setLevel says otherwise).
// When the client offers roots, it asks for them (client_roots.hpp) and every
// call carries them to the core.
//
//   McpSession session(host, "mcp-stdio", [&](Outgoing m) { return write_line(m.text); });
//   session.handle_text(line);               // replies go to the session writer
//   session.handle_text(body, {.writer = w}); // HTTP: replies go to this POST's stream
//   ...
//   session.shutdown();  // detaches in-flight calls and waits for them
//
// Where messages go: a reply and the notifications about its request go to
// the writer of the request's Origin. When that writer reports its stream gone
// (HTTP: the POST connection closed), notifications fall back to the session
// writer (HTTP: the GET stream) and the response is dropped, as the Streamable
// HTTP transport requires.
//
// Threading: handle_text() and shutdown() are thread-safe. Writers are called
// from several threads and must serialize writes themselves.
#pragma once

#include <atomic>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <condition_variable>
#include <functional>
#include <isb/sdk/plugin.hpp>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "call_pool.hpp"
#include "client_roots.hpp"
#include "session_tasks.hpp"
#include "tool_catalog.hpp"

namespace isb::mcp {

//! Protocol revisions this server speaks, newest first.
inline constexpr const char* kSupportedVersions[] = {"2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05"};

//! True when version is one of kSupportedVersions.
bool is_supported_version(std::string_view version);

//! RFC 5424 severities as MCP names them, least severe first; -1 if unknown.
int log_level_rank(std::string_view level);

//! One serialized JSON-RPC message (no trailing newline).
struct Outgoing {
  std::string text;
  bool is_response = false;  //!< a response: the last message about its request
};

//! Delivers one message; returns false when its stream is gone for good.
using Writer = std::function<bool(Outgoing message)>;

//! Where one incoming message came from and where its replies go.
struct Origin {
  Writer writer;               // empty: the session's writer
  std::string credential;      // API key presented with the message
  std::string principal;       // set by the transport once admitted
  bool admitted = false;       // the transport already ran host admit() for it
  std::string client_address;  // the peer's network address, when the transport has one
};

struct SessionOptions {
  //! Tools per tools/list page; further pages are reached with nextCursor.
  size_t tools_page_size = 100;
  //! Runs tools/call and resources/*; shared by the sessions of a transport.
  //! Null: the session makes its own with default bounds.
  std::shared_ptr<CallPool> pool;
  //! The tools/list catalogue; shared by the sessions of a transport so that
  //! a session costs only its own state. Null: the session makes its own.
  std::shared_ptr<ToolCatalog> catalog;
  //! serverInfo.name and .description (empty: left out) in initialize.
  std::string server_name = "intelligent-sandbox";
  std::string server_description;
};

class McpSession {
 public:
  McpSession(isb::sdk::Host host, std::string transport_id, Writer writer, SessionOptions options = {},
             std::string client_id = "");
  ~McpSession();
  McpSession(const McpSession&) = delete;
  McpSession& operator=(const McpSession&) = delete;

  //! Handles one complete message. Malformed JSON is answered with -32700 and
  //! id null; the session keeps serving. Returns how many responses the
  //! message will get (0 for notifications and responses, else 1); the
  //! response may be written later, from another thread.
  int handle_text(std::string_view text, const Origin& origin = {});

  //! The client is gone: every call in flight is detached (isb_event_sink:
  //! work the server owns, such as a background execution, goes on) and
  //! cancelled, task watchers stop, and this waits until all have answered.
  void shutdown();

  //! Number of tools/call and resources/* requests queued or running.
  size_t in_flight() const;

  //! The protocol version negotiated by initialize ("" before it).
  std::string protocol_version() const;

 private:
  struct Call {
    std::atomic<bool> cancelled{false};
    std::atomic<bool> detached{false};  // set before cancelled when the client is gone
  };
  // What a pooled request does once a worker picks it up.
  enum class Job { kToolCall, kListResources, kListTemplates, kReadResource };
  //! The task methods (tasks/*).
  enum class TaskMethod { kGet, kResult, kCancel, kList };

  void handle_request(boost::json::value id, const std::string& method, boost::json::object params,
                      const Origin& origin);
  void handle_notification(const std::string& method, const boost::json::object& params);
  boost::json::object initialize(const boost::json::object& params);
  //! The shared catalogue (options_.catalog); nullptr when the host could not
  //! list its operations.
  const ToolCatalog::Tools* tools();
  void list_tools(const boost::json::value& id, const boost::json::object& params, const Origin& origin);
  void set_log_level(const boost::json::value& id, const boost::json::object& params, const Origin& origin);
  void start_tool_call(boost::json::value id, boost::json::object params, const Origin& origin);
  void start_task_request(boost::json::value id, TaskMethod method, boost::json::object params,
                          const Origin& origin);
  //! Sends a task reply (SessionTasks::Reply) as the response to id.
  void send_task_reply(const boost::json::value& id, const SessionTasks::Reply& reply, const Origin& origin);
  void start_resource_request(boost::json::value id, Job job, boost::json::object params,
                              const Origin& origin);
  //! Registers the call under its id and queues work; answers itself on refusal.
  void enqueue(const boost::json::value& id, CallPool::Lane lane,
               std::function<void(std::shared_ptr<Call>)> work, const Origin& origin);
  void run_tool_call(const boost::json::value& id, const std::string& name, const boost::json::object& args,
                     const std::optional<boost::json::value>& progress_token, const Call& call,
                     const Origin& origin);
  void run_resource_request(const boost::json::value& id, Job job, const boost::json::object& params,
                            const Call& call, const Origin& origin);
  isb::sdk::RequestContext request_context(const boost::json::value& id, const Origin& origin) const;
  void finish_call(const boost::json::value& id);
  void send(const boost::json::object& message, const Origin& origin, bool is_response);
  void send_text(std::string text, const Origin& origin, bool is_response);

  isb::sdk::Host host_;
  std::string transport_id_;
  std::string client_id_;
  Writer writer_;
  SessionOptions options_;

  mutable std::mutex state_mu_;
  std::string protocol_version_;
  std::atomic<bool> links_supported_{true};  // resource_link content items allowed
  std::atomic<bool> tasks_enabled_{false};   // tasks negotiated (2025-11-25 and a core that offers them)
  // Lowest severity sent as notifications/message: info until logging/setLevel
  // (clients that never call it still see command output).
  std::atomic<int> min_log_rank_{1};

  mutable std::mutex calls_mu_;
  std::condition_variable calls_done_;
  std::unordered_map<std::string, std::shared_ptr<Call>> calls_;  // by id_key
  size_t running_ = 0;
  std::atomic<bool> shutting_down_{false};
  std::atomic<bool> initialized_{false};

  // The client's roots (when it offers them): the session's allowed sources.
  // Mutable: request_context() waits on it while roots/list is unanswered.
  mutable ClientRoots roots_;
  SessionTasks tasks_;  // last: its watchers use the members above
};

}  // namespace isb::mcp
