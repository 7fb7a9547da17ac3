// tool_catalog.hpp: the MCP-shaped tool list (tools/list), built once from
// the host's operation catalogue and shared by every session of a transport.
//
// The catalogue holds every tool's input and output JSON Schema: a few hundred
// KiB once parsed. Built per session, a thousand sessions cost hundreds of MiB
// (security issue 13: 1,017 sessions took RSS from 17 to 277 MB); shared, a
// session costs only its own state.
//
//   auto catalog = std::make_shared<ToolCatalog>();     // one per transport
//   if (const ToolCatalog::Tools* t = catalog->get(host)) t->list ...
//
// Thread-safety: get() is safe from any thread. Once built the catalogue never
// changes, so the pointer it returns stays valid as long as the ToolCatalog.
#pragma once

#include <boost/json/array.hpp>
#include <isb/sdk/plugin.hpp>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>

namespace isb::mcp {

//! The core operations that serve MCP resources (resources/list, resources/read).
inline constexpr const char* kListResourcesOp = "list_resources";
inline constexpr const char* kReadResourceOp = "read_resource";
//! The core operations a task follows its execution with (plugin_abi.h,
//! list_operations: "task_support").
inline constexpr const char* kWaitExecutionOp = "wait_execution";
inline constexpr const char* kCancelExecutionOp = "cancel_execution";

class ToolCatalog {
 public:
  struct Tools {
    //! tools/list entries, in the host's stable order (sessions that
    //! negotiated tasks add execution.taskSupport to the task_tools).
    boost::json::array list;
    //! Tool name -> read-only, idempotent and not long running (the quick
    //! lane of the CallPool).
    std::unordered_map<std::string, bool> quick;
    //! Tools that may be called as a task (their operation starts an execution).
    std::unordered_set<std::string> task_tools;
    //! The host offers list_resources and read_resource.
    bool resources_available = false;
    //! The host offers tasks: task tools, wait_execution and cancel_execution.
    bool tasks_available = false;
  };

  //! The catalogue, built from host on first use; nullptr when the host could
  //! not list its operations (the next call tries again).
  const Tools* get(const isb::sdk::Host& host);

 private:
  std::mutex mu_;
  std::optional<Tools> tools_;
};

}  // namespace isb::mcp
