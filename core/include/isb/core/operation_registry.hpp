// operation_registry.hpp: the one catalogue of operations (tools) that every
// transport exposes. Each operation is defined once: name, description, input
// and output JSON Schema, annotations and one handler. MCP tools and REST
// routes are generated from this registry, so front doors cannot disagree.
//
//   registry.add({.name = "ping_workspace", .description = "...",
//                 .input_schema = ..., .output_schema = ...,
//                 .handler = [](const boost::json::object& args, CallContext& ctx) -> Result<boost::json::value> {...}});
//   auto r = registry.call("ping_workspace", args_json, ctx);
//
// Threading: add() during start-up only; afterwards list() and call() are
// thread-safe and call() may run many operations at once.
#pragma once

#include <isb/core/client_roots.hpp>
#include <isb/core/json_schema.hpp>
#include <isb/core/result.hpp>

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

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
class CallContext {
 public:
  using EventFn = std::function<void(const boost::json::object& event)>;
  using CancelledFn = std::function<bool()>;

  CallContext(RequestInfo request, EventFn on_event = {}, CancelledFn cancelled = {})
      : request_(std::move(request)), on_event_(std::move(on_event)), cancelled_(std::move(cancelled)) {}

  const RequestInfo& request() const { return request_; }
  void emit(const boost::json::object& event) const {
    if (on_event_) on_event_(event);
  }
  //! Emits {"type":"progress","progress":p,"total":t,"message":m}.
  void progress(double progress, double total, const std::string& message) const;
  //! Emits {"type":"output","stream":"stdout"|"stderr","data":...}.
  void output(int32_t stream, std::string_view data) const;
  bool cancelled() const { return cancelled_ && cancelled_(); }

 private:
  RequestInfo request_;
  EventFn on_event_;
  CancelledFn cancelled_;
};

struct OperationAnnotations {
  bool read_only = false;
  bool destructive = false;
  bool idempotent = false;
  bool open_world = false;
};

using OperationHandler = std::function<Result<boost::json::value>(const boost::json::object& args, CallContext& ctx)>;

struct OperationSpec {
  std::string name;
  std::string title;
  std::string description;
  std::string input_schema;   // JSON Schema text, type object
  std::string output_schema;  // JSON Schema text, type object
  OperationAnnotations annotations;
  OperationHandler handler;
};

class OperationRegistry {
 public:
  //! Compiles the schemas; a bad schema or a duplicate name is a programming error.
  Status add(OperationSpec spec);

  //! Catalogue as a JSON array in registration order:
  //! [{"name","title","description","input_schema","output_schema","annotations":{...}}]
  boost::json::array list() const;
  bool contains(const std::string& name) const { return index_.count(name) != 0; }

  //! Validates args against the input schema, runs the handler, and checks the
  //! result against the output schema (a mismatch is an internal error: it
  //! would break clients that validate, so it is never sent as a success).
  Result<boost::json::value> call(const std::string& name, const boost::json::value& args, CallContext& ctx) const;

 private:
  struct Entry {
    OperationSpec spec;
    boost::json::value input_schema;
    boost::json::value output_schema;
    std::shared_ptr<const JsonSchema> input;
    std::shared_ptr<const JsonSchema> output;
  };
  std::vector<Entry> entries_;
  std::map<std::string, size_t> index_;
};

}  // namespace isb
