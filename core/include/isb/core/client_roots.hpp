// client_roots.hpp: the directories an MCP client offered as its roots for one
// session. They narrow where create_workspace may take a source from: a
// desktop client offers the project it has open, and the agent then cannot
// copy anything else of the user's into a workspace.
//
//   // A transport (ABI 1.3) sends {"roots":["/home/ann/proj"]}:
//   auto roots = isb::parse_client_roots(R"({"roots":["/home/ann/proj"]})");
//   policy.restricted_to(*roots).check("/home/ann/proj/src");  // allowed
//   policy.restricted_to(*roots).check("/home/ann/other");     // refused
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace isb {

//! What a transport said about the client's roots (isb_request_ctx.client_roots_json).
struct ClientRoots {
  //! Absolute directories, as the client offered them (not yet canonical).
  std::vector<std::string> directories{};
  //! Why the list is not known although the client offered roots; then
  //! directories is empty and every source is refused with this reason.
  std::string error{};
};

//! Parses {"roots":["/abs", ...], "error"?: "..."}. A document that does not
//! have this shape gives no directories and an error that says so, so that a
//! broken transport cannot widen what a session may read (fail closed).
ClientRoots parse_client_roots(std::string_view json);

}  // namespace isb
