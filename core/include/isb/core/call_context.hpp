// call_context.hpp: who is calling and the per-call channel back to them
// (events out, cancellation in). It sits below both the operation registry
// and the services, so that a service can take a CallContext without knowing
// the registry that dispatches to it.
//
//   isb::CallContext ctx({.transport = "mcp-http"}, [](const boost::json::object& e) { send(e); });
//   ctx.progress(1, 3, "step 1 of 3");
//   if (ctx.cancelled()) return;
#pragma once

#include <boost/json/object.hpp>
#include <cstdint>
#include <functional>
#include <isb/core/client_roots.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace isb {

//! Who is calling, as far as the transport knows.
struct RequestInfo {
  std::string transport;
  std::string principal;
  std::string client_id;
  std::string request_id;
  std::string credential;
  //! The roots the client offered for this session; nullopt when it offered
  //! none (then the configured allowed_source_roots or their defaults apply).
  std::optional<ClientRoots> client_roots{};
};

//! Per-call context handed to handlers: events out, cancellation in.
//! Threading: emit() must not be called concurrently for one call (callers
//! serialize); cancelled() and detached() may be asked from any thread.
class CallContext {
 public:
  using EventFn = std::function<void(const boost::json::object& event)>;
  using CancelledFn = std::function<bool()>;

  CallContext(RequestInfo request, EventFn on_event = {}, CancelledFn cancelled = {},
              CancelledFn detached = {})
      : request_(std::move(request)),
        on_event_(std::move(on_event)),
        cancelled_(std::move(cancelled)),
        detached_(std::move(detached)) {}

  const RequestInfo& request() const { return request_; }
  void emit(const boost::json::object& event) const {
    if (on_event_) on_event_(event);
  }
  //! Emits {"type":"progress","progress":p,"total":t,"message":m}.
  void progress(double progress, double total, const std::string& message) const;
  //! Emits {"type":"output","stream":"stdout"|"stderr","data":...}.
  void output(int32_t stream, std::string_view data) const;
  //! The client cancelled the request, or went away (then detached() too).
  bool cancelled() const { return cancelled_ && cancelled_(); }
  //! The client went away without asking to stop anything: nobody reads the
  //! result, but work the server owns (a background execution) goes on.
  //! Transports set it before cancelled(), so ask it once cancelled() is true.
  bool detached() const { return detached_ && detached_(); }

 private:
  RequestInfo request_;
  EventFn on_event_;
  CancelledFn cancelled_;
  CancelledFn detached_;
};

}  // namespace isb
