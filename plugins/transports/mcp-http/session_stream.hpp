// session_stream.hpp: the server-to-client stream of one HTTP MCP session
// (GET /mcp, Server-Sent Events), with numbered events kept in a bounded
// replay buffer so a client that reconnects with Last-Event-ID gets what it
// missed.
//
//   SessionStream s(256, 1 << 20);
//   s.push(R"({"jsonrpc":"2.0","method":"notifications/message",...})");  // any thread
//   // the GET handler:
//   if (!s.attach()) reply 409;
//   uint64_t last = s.resume_point(last_event_id_header);
//   while (auto batch = s.wait_after(last, 15s, stop)) { write each; last = batch->back().id; }
//   s.detach();
//
// Messages pushed while no client listens are kept (within the bounds) and
// delivered when one attaches, oldest first. Event ids are the decimal
// sequence number of the message in the session, starting at 1.
//
// Threading: thread-safe. Ownership: the stream copies what is pushed.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace isb::mcp {

class SessionStream {
 public:
  struct Event {
    uint64_t id = 0;
    std::string data;  // one serialized JSON-RPC message
  };

  //! Keeps at most max_events events and max_bytes of their data for replay.
  SessionStream(size_t max_events, size_t max_bytes);

  //! Appends a message; the oldest events are dropped beyond the bounds.
  void push(std::string data);

  //! Claims the stream for one GET connection; false when another holds it.
  [[nodiscard]] bool attach();
  void detach();

  //! The id after which to send: the Last-Event-ID header's number when it
  //! names an event of this session, else 0 (everything kept). nullopt when
  //! the header is not a number this session could have issued.
  std::optional<uint64_t> resume_point(std::string_view last_event_id) const;

  //! Events with an id above after, waiting up to timeout for the first one.
  //! Empty after a timeout; nullopt once the stream is closed or stop is set.
  std::optional<std::vector<Event>> wait_after(uint64_t after, std::chrono::milliseconds timeout,
                                               const std::atomic<bool>& stop);

  //! Ends the stream (the session ended): waiting readers return nullopt.
  void close();

 private:
  const size_t max_events_;
  const size_t max_bytes_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Event> events_;
  size_t bytes_ = 0;
  uint64_t next_id_ = 1;
  bool attached_ = false;
  bool closed_ = false;
};

}  // namespace isb::mcp
