// workspace_operations.cpp: create_workspace, list_workspaces, destroy_workspace.
#include "operations/operations.hpp"
#include "operations/schemas.hpp"

namespace isb::operations {

Status register_workspace_operations(OperationRegistry& r, const Services& s) {
  auto* ws = s.workspaces;
  if (auto st = r.add({
          .name = "create_workspace",
          .title = "Create workspace",
          .description = "Create an isolated workspace from a project directory on the server's host. The directory "
                         "is copied (credentials such as .ssh, .gnupg, .aws, .netrc are never copied) and bound to "
                         "the configured isolation backend. Returns the workspace id used by every other tool.",
          .input_schema = R"({"type":"object","additionalProperties":false,"required":["source_path"],
            "properties":{
              "source_path":{"type":"string","minLength":1,"description":"Absolute path of the project directory; must lie under the allowed source roots"},
              "workspace_id":)" + schemas::kWorkspaceId + R"(}})",
          .output_schema = schemas::kWorkspace,
          .annotations = {.read_only = false, .destructive = false, .idempotent = false, .open_world = false},
          .handler =
              [ws](const boost::json::object& args, CallContext&) -> Result<boost::json::value> {
                return to_value(ws->create({arg_string(args, "source_path"), arg_string(args, "workspace_id")}));
              },
      });
      !st) {
    return st;
  }
  if (auto st = r.add({
          .name = "list_workspaces",
          .title = "List workspaces",
          .description = "List the active workspaces with their paths, backends and limits.",
          .input_schema = R"({"type":"object","additionalProperties":false,"properties":{}})",
          .output_schema = R"({"type":"object","required":["workspaces","count","max_workspaces"],"properties":{
              "workspaces":{"type":"array","items":)" + schemas::kWorkspace + R"(},
              "count":{"type":"integer"},"max_workspaces":{"type":"integer"}}})",
          .annotations = {.read_only = true, .destructive = false, .idempotent = true, .open_world = false},
          .handler = [ws](const boost::json::object&, CallContext&) -> Result<boost::json::value> {
            return to_value(ws->list());
          },
      });
      !st) {
    return st;
  }
  return r.add({
      .name = "destroy_workspace",
      .title = "Destroy workspace",
      .description = "Stop every process of the workspace's sandbox and delete its files. Its execution history "
                     "stays queryable.",
      .input_schema = R"({"type":"object","additionalProperties":false,"required":["workspace_id"],
        "properties":{"workspace_id":)" + schemas::kWorkspaceId + R"(}})",
      .output_schema = R"({"type":"object","required":["workspace_id","destroyed","path_removed"],"properties":{
          "workspace_id":{"type":"string"},"destroyed":{"type":"boolean"},"path":{"type":"string"},
          "path_removed":{"type":"boolean"},"warnings":{"type":"array","items":{"type":"string"}}}})",
      .annotations = {.read_only = false, .destructive = true, .idempotent = false, .open_world = false},
      .handler = [ws](const boost::json::object& args, CallContext&) -> Result<boost::json::value> {
        return to_value(ws->destroy(arg_string(args, "workspace_id")));
      },
  });
}

}  // namespace isb::operations
