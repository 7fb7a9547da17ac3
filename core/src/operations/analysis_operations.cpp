// analysis_operations.cpp: analyze_codebase. Its outputSchema is
// docs/schemas/analysis.schema.json, embedded at build time.
#include "analysis_schema.hpp"
#include "operations/operations.hpp"
#include "operations/schemas.hpp"

namespace isb::operations {

Status register_analysis_operations(OperationRegistry& r, const Services& s) {
  auto* analysis = s.analysis;
  return r.add({
      .name = "analyze_codebase",
      .title = "Analyze codebase",
      .description =
          "Analyze a workspace: languages with code/comment/blank lines (cloc-compatible), project roots "
          "with their ecosystem and package manager, the install/build/test/lint commands ranked by "
          "source (CI workflow > manifest script/Makefile target > ecosystem default) each with its "
          "evidence, and the commands the CI runs. An unchanged workspace is answered from a cache keyed "
          "by the tree's fingerprint. Each project also names its frameworks and test framework with evidence "
          "and counts its dependencies; include_dependencies lists every dependency with its declared "
          "constraint, resolved version and scope. The result is stored and used by create_task_plan.",
      .input_schema = R"({"type":"object","additionalProperties":false,"required":["workspace_id"],
        "properties":{"workspace_id":)" +
                      schemas::kWorkspaceId + R"(,
          "depth":{"type":"string","enum":["quick","full"],"default":"full",
            "description":"quick: projects, commands and CI only, no line counting; full: everything"},
          "include_dependencies":{"type":"boolean","default":false,
            "description":"true: also the full dependencies[] list (ecosystem, name, constraint, resolved version, scope, direct, file); false: per project only the dependency counts, frameworks and test framework"}}})",
      .output_schema = schemas::kAnalysisResult,
      .annotations = {.read_only = true, .destructive = false, .idempotent = true, .open_world = false},
      .handler = [analysis](const boost::json::object& args, CallContext&) -> Result<boost::json::value> {
        AnalysisOptions options;
        if (auto* d = args.if_contains("depth")) {
          if (*d == "quick") {
            options.depth = AnalysisDepth::kQuick;
          } else if (*d != "full") {
            return make_error(ErrorCode::kInvalidArgument, "depth must be \"quick\" or \"full\"");
          }
        }
        if (auto* d = args.if_contains("include_dependencies")) {
          if (!d->is_bool())
            return make_error(ErrorCode::kInvalidArgument, "include_dependencies must be true or false");
          options.include_dependencies = d->as_bool();
        }
        return to_value(analysis->analyze(json_fields::string_or(args, "workspace_id"), options));
      },
  });
}

}  // namespace isb::operations
