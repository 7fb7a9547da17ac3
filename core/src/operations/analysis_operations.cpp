// analysis_operations.cpp: analyze_codebase.
#include "operations/operations.hpp"
#include "operations/schemas.hpp"

namespace isb::operations {

Status register_analysis_operations(OperationRegistry& r, const Services& s) {
  auto* analysis = s.analysis;
  return r.add({
      .name = "analyze_codebase",
      .title = "Analyze codebase",
      .description = "Analyze a workspace: languages with file and line counts, project roots with their ecosystem "
                     "and package manager, and the install/build/test commands, each with the file that is its "
                     "evidence. The result is stored and used by create_task_plan.",
      .input_schema = R"({"type":"object","additionalProperties":false,"required":["workspace_id"],
        "properties":{"workspace_id":)" + schemas::kWorkspaceId + R"(}})",
      .output_schema = R"({"type":"object",
        "required":["workspace_id","schema_version","analyzers","files","languages","primary_language","projects","warnings","duration_ms"],
        "properties":{
          "workspace_id":{"type":"string"},
          "schema_version":{"type":"integer"},
          "analyzed_at":{"type":"string"},
          "duration_ms":{"type":"integer"},
          "analyzers":{"type":"array","items":{"type":"object","required":["id"],"properties":{"id":{"type":"string"}}}},
          "files":{"type":"object"},
          "languages":{"type":"array","items":{"type":"object","required":["name","files","code","comment","blank"],
            "properties":{"name":{"type":"string"},"files":{"type":"integer"},"code":{"type":"integer"},
              "comment":{"type":"integer"},"blank":{"type":"integer"},"bytes":{"type":"integer"},"share":{"type":"number"}}}},
          "primary_language":{"type":["string","null"]},
          "projects":{"type":"array","items":{"type":"object","required":["path","ecosystem","commands"],
            "properties":{"path":{"type":"string"},"ecosystem":{"type":"string"},"package_manager":{"type":"string"},
              "manifests":{"type":"array","items":{"type":"string"}},"commands":{"type":"object"},
              "evidence":{"type":"array"}}}},
          "warnings":{"type":"array","items":{"type":"string"}}
        }})",
      .annotations = {.read_only = true, .destructive = false, .idempotent = true, .open_world = false},
      .handler = [analysis](const boost::json::object& args, CallContext&) -> Result<boost::json::value> {
        return to_value(analysis->analyze(arg_string(args, "workspace_id")));
      },
  });
}

}  // namespace isb::operations
