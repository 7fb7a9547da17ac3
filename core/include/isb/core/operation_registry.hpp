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
// Threading: add(), expose_only() and set_observer() during start-up only;
// afterwards list() and call() are thread-safe and call() may run many
// operations at once.
#pragma once

#include <isb/core/call_context.hpp>
#include <isb/core/json_schema.hpp>
#include <isb/core/result.hpp>

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace isb {

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
  //! The call may block for long (it waits on work in a sandbox); transports
  //! keep it apart from quick calls.
  bool long_running = false;
  //! The operation starts a background execution: it takes "wait" and, with
  //! wait false, returns at once (transports can offer it as an MCP task).
  bool starts_execution = false;
  //! Operations a client needs to use this one (follow and stop what it
  //! starts): expose_only() exposes them whenever it exposes this one.
  std::vector<std::string> companions;
};

//! One entry of the operator's list of tools to expose (mcp_config.json "tools").
struct ToolExposure {
  std::string name;
  //! Shown instead of the built-in description when set.
  std::optional<std::string> description;
  //! Argument name -> JSON Schema type ("string", "integer", ...), as the seed
  //! writes them: each must be an argument of the operation, of that type.
  std::vector<std::pair<std::string, std::string>> parameters;
};

//! Called after every call() with the operation, how long it took and its
//! error (nullptr on success); see set_observer.
using CallObserver =
    std::function<void(const std::string& name, std::chrono::nanoseconds took, const Error* error)>;

class OperationRegistry {
 public:
  //! Compiles the schemas; a bad schema or a duplicate name is a programming error.
  Status add(OperationSpec spec);

  //! Restricts what list() shows and call() runs to these tools, after every
  //! operation is added. Every front door reads the registry, so tools/list,
  //! tools/call and REST agree. An unknown name, or a parameter the operation
  //! does not take (or takes with another type), is an error naming it and
  //! where (source, e.g. the file and "tools[2]"), and nothing is restricted.
  //! The companions of an exposed tool are exposed too (logged).
  Status expose_only(const std::vector<ToolExposure>& tools, const std::string& source);

  //! Installs the observer (startup only; see the threading note).
  void set_observer(CallObserver observer) { observer_ = std::move(observer); }

  //! The catalogue (plugin_abi.h, list_operations) in registration order:
  //! [{"name","title","description","input_schema","output_schema","annotations":{...}}],
  //! plus "long_running": true and "task_support": "optional" where the spec says so.
  boost::json::array list() const;
  bool contains(const std::string& name) const {
    auto it = index_.find(name);
    return it != index_.end() && !entries_[it->second].hidden;
  }

  //! Validates args against the input schema, runs the handler, and checks the
  //! result against the output schema (a mismatch is an internal error: it
  //! would break clients that validate, so it is never sent as a success).
  Result<boost::json::value> call(const std::string& name, const boost::json::value& args, CallContext& ctx) const;

 private:
  Result<boost::json::value> call_unobserved(const std::string& name, const boost::json::value& args,
                                             CallContext& ctx) const;

  struct Entry {
    OperationSpec spec;
    bool hidden = false;  // left out by expose_only
    boost::json::value input_schema;
    boost::json::value output_schema;
    std::shared_ptr<const JsonSchema> input;
    std::shared_ptr<const JsonSchema> output;
  };
  std::vector<Entry> entries_;
  std::map<std::string, size_t> index_;
  std::string hidden_by_;  // the source that restricted the tools, for messages
  CallObserver observer_;
};

}  // namespace isb
