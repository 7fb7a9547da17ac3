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
                         "is copied, or with mode overlay mounted copy-on-write (credentials such as .ssh, .gnupg, .aws, .netrc never "
                         "appear in a workspace), and bound to "
                         "an isolation backend (the configured one, or isolation.backend). Fails, creating nothing, "
                         "when the backend cannot enforce what the server's security level requires. Returns the "
                         "workspace id used by every other tool.",
          .input_schema = R"({"type":"object","additionalProperties":false,"required":["source_path"],
            "properties":{
              "source_path":{"type":"string","minLength":1,"maxLength":4096,"description":"Absolute path of the project directory, or of a .tar, .tar.gz or .zip archive of it (unpacked as hostile: entries leaving the tree, links out, devices and bombs are refused); must lie under the allowed source roots: the roots the MCP client offered for this session, when it offers roots"},
              "workspace_id":)" + schemas::kWorkspaceId + R"(,
              "mode":{"type":"string","enum":["copy","overlay"],"description":"copy: a full copy; overlay: overlayfs over the read-only source, constant time (the source must not change while the workspace lives, unless snapshot is set; falls back to copy where unavailable, and says so in mode_note). Default: sandbox.workspace_mode"},
              "snapshot":{"type":"boolean","description":"overlay mode only: first copy the source into the server's state dir (reflinks where the filesystem has them) and mount the overlay over that copy, so that later changes to the source cannot leak into the workspace. Costs a copy; default false"},
              "isolation":{"type":"object","additionalProperties":false,
                "description":"Per-workspace choice of backend, image and limits; limits may only be lower than the configured ones",
                "properties":{
                  "backend":{"type":"string","description":"Isolation backend id, e.g. process or docker"},
                  "use_docker":{"type":"boolean","description":"Seed spelling: true selects the docker backend"},
                  "image":{"type":"string","description":"Container image, for the docker backend"},
                  "resource_limits":{"type":"object","additionalProperties":false,"properties":{
                    "memory_mb":{"type":"integer","minimum":1},"cpu_cores":{"type":"number","exclusiveMinimum":0},
                    "disk_mb":{"type":"integer","minimum":1},"max_processes":{"type":"integer","minimum":1},
                    "max_open_files":{"type":"integer","minimum":1}}}}}}})",
          .output_schema = schemas::kWorkspace,
          .annotations = {.read_only = false, .destructive = false, .idempotent = false, .open_world = false},
          .handler =
              [ws](const boost::json::object& args, CallContext& ctx) -> Result<boost::json::value> {
                WorkspaceService::CreateRequest req{json_fields::string_or(args, "source_path"), json_fields::string_or(args, "workspace_id"),
                                                    {}, "", false};
                req.client_roots = ctx.request().client_roots;
                if (auto* iso = args.if_contains("isolation"); iso && iso->is_object()) {
                  const auto& o = iso->as_object();
                  req.isolation.backend = json_fields::string_or(o, "backend");
                  if (req.isolation.backend.empty() && json_fields::bool_or(o, "use_docker", false)) req.isolation.backend = "docker";
                  req.isolation.image = json_fields::string_or(o, "image");
                  if (auto* l = o.if_contains("resource_limits"); l && l->is_object()) {
                    req.isolation.resource_limits = l->as_object();
                  }
                }
                req.mode = json_fields::string_or(args, "mode");
                req.snapshot = json_fields::bool_or(args, "snapshot", false);
                return to_value(ws->create(req));
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
        return to_value(ws->destroy(json_fields::string_or(args, "workspace_id")));
      },
  });
}

}  // namespace isb::operations
