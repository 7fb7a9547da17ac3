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

namespace isb::mcp {

//! The core operations that serve MCP resources (resources/list, resources/read).
inline constexpr const char* kListResourcesOp = "list_resources";
inline constexpr const char* kReadResourceOp = "read_resource";

class ToolCatalog {
 public:
  struct Tools {
    boost::json::array list;  //!< tools/list entries, in the host's stable order
    //! Tool name -> read-only and idempotent (the quick lane of the CallPool).
    std::unordered_map<std::string, bool> quick;
    //! The host offers list_resources and read_resource.
    bool resources_available = false;
  };

  //! The catalogue, built from host on first use; nullptr when the host could
  //! not list its operations (the next call tries again).
  const Tools* get(const isb::sdk::Host& host);

 private:
  std::mutex mu_;
  std::optional<Tools> tools_;
};

}  // namespace isb::mcp
