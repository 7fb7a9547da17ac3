// file_operations.cpp: the file tools (list_files, read_file, write_file,
// delete_file, search_files) and the change tools (get_workspace_diff,
// export_workspace, apply_changes). Each call restarts the workspace's idle
// clock; confinement lives in file_tools / workspace_changes, not here.
#include <isb/core/file_tools.hpp>
#include <isb/core/workspace_changes.hpp>

#include "ids/random_id.hpp"
#include "operations/operations.hpp"
#include "operations/schemas.hpp"
#include "time/utc_time.hpp"

#include <chrono>
#include <ctime>

namespace isb::operations {

namespace {

namespace json = boost::json;

const std::string kPath =
    R"({"type":"string","maxLength":4096,"description":"Path relative to the workspace root, e.g. src/main.c; '..', absolute paths and symlinks leading outside are refused"})";

std::string export_name(const std::string& id, const std::string& format) {
  return id + "-" + iso8601_utc(std::time(nullptr), Iso8601::kBasic) + "-" +
         std::to_string(ids::random_below(100000)) + "." + format;
}

using Handler = std::function<Result<json::value>(WorkspaceService&, const WorkspaceRecord&, const json::object&)>;

// Resolves and touches the workspace, then runs fn on it.
OperationHandler on_workspace(WorkspaceService* ws, Handler fn) {
  return [ws, fn = std::move(fn)](const json::object& args, CallContext&) -> Result<json::value> {
    auto w = ws->use(json_fields::string_or(args, "workspace_id"));
    if (!w) return w.error();
    return fn(*ws, *w, args);
  };
}

std::string with_id(const std::string& props, const std::string& required) {
  return R"({"type":"object","additionalProperties":false,"required":["workspace_id")" + required +
         R"(],"properties":{"workspace_id":)" + schemas::kWorkspaceId + props + "}}";
}

}  // namespace

Status register_file_operations(OperationRegistry& r, const Services& s) {
  auto* ws = s.workspaces;
  const OperationAnnotations kRead{.read_only = true, .destructive = false, .idempotent = true, .open_world = false};
  const OperationAnnotations kWrite{.read_only = false, .destructive = true, .idempotent = false, .open_world = false};
  std::vector<OperationSpec> specs;
  specs.push_back({
      .name = "list_files",
      .title = "List files",
      .description = "List the entries of a directory in a workspace (recursively on request), with type, size, "
                     "mode and mtime; symlinks are listed with their target, never followed. glob filters on the "
                     "relative path or the file name (fnmatch, e.g. *.py).",
      .input_schema = with_id(R"(,"path":)" + kPath + R"(,"recursive":{"type":"boolean"},"glob":{"type":"string"})", ""),
      .output_schema = R"({"type":"object","required":["path","entries","count","truncated"]})",
      .annotations = kRead,
      .handler = on_workspace(ws, [](WorkspaceService&, const WorkspaceRecord& w, const json::object& a) {
        return to_value(file_tools::list_files(
            w.path, {.path = json_fields::string_or(a, "path"), .recursive = json_fields::bool_or(a, "recursive", false),
                     .glob = json_fields::string_or(a, "glob")}));
      }),
  });
  specs.push_back({
      .name = "read_file",
      .title = "Read file",
      .description = "Read a file of a workspace: text as UTF-8, anything else as base64 (encoding says which). "
                     "At most 1 MiB per call; use offset and limit to read larger files in chunks.",
      .input_schema = with_id(R"(,"path":)" + kPath +
                                  R"(,"offset":{"type":"integer","minimum":0},"limit":{"type":"integer","minimum":1,"maximum":1048576})",
                              R"(,"path")"),
      .output_schema = R"({"type":"object","required":["path","size","offset","length","encoding","content","eof"]})",
      .annotations = kRead,
      .handler = on_workspace(ws, [](WorkspaceService&, const WorkspaceRecord& w, const json::object& a) {
        return to_value(file_tools::read_file(
            w.path, {.path = json_fields::string_or(a, "path"), .offset = json_fields::int_or(a, "offset", 0), .limit = json_fields::int_or(a, "limit", -1)}));
      }),
  });
  specs.push_back({
      .name = "write_file",
      .title = "Write file",
      .description = "Write a file in a workspace (parent directories are created). mode: overwrite (default), "
                     "append, or create (fails if the file exists). encoding: utf-8 (default) or base64. Writes "
                     "beyond the workspace's disk_mb limit are refused.",
      .input_schema = with_id(R"(,"path":)" + kPath + R"(,"content":{"type":"string"},
          "encoding":{"type":"string","enum":["utf-8","base64"]},
          "mode":{"type":"string","enum":["overwrite","append","create"]})",
                              R"(,"path","content")"),
      .output_schema = R"({"type":"object","required":["path","bytes_written","size","created"]})",
      .annotations = kWrite,
      .handler = on_workspace(ws, [](WorkspaceService& svc, const WorkspaceRecord& w, const json::object& a)
                                      -> Result<json::value> {
        auto quota = svc.disk_quota_remaining(w);
        if (!quota) return quota.error();
        return to_value(file_tools::write_file(w.path, {.path = json_fields::string_or(a, "path"),
                                                        .content = json_fields::string_or(a, "content"),
                                                        .encoding = json_fields::string_or(a, "encoding", "utf-8"),
                                                        .mode = json_fields::string_or(a, "mode", "overwrite"),
                                                        .quota_remaining = *quota}));
      }),
  });
  specs.push_back({
      .name = "delete_file",
      .title = "Delete file",
      .description = "Delete a file or symlink (the link itself, never its target) in a workspace; a directory "
                     "only with recursive: true.",
      .input_schema = with_id(R"(,"path":)" + kPath + R"(,"recursive":{"type":"boolean"})", R"(,"path")"),
      .output_schema = R"({"type":"object","required":["path","deleted","entries_removed"]})",
      .annotations = kWrite,
      .handler = on_workspace(ws, [](WorkspaceService&, const WorkspaceRecord& w, const json::object& a) {
        return to_value(file_tools::delete_file(w.path, json_fields::string_or(a, "path"), json_fields::bool_or(a, "recursive", false)));
      }),
  });
  specs.push_back({
      .name = "search_files",
      .title = "Search files",
      .description = "Search the text files of a workspace for a POSIX extended regular expression, line by line. "
                     "Binary files and files over 4 MiB are skipped (and counted). glob restricts the files "
                     "searched (fnmatch on the relative path or the file name).",
      .input_schema = with_id(R"(,"pattern":{"type":"string","minLength":1},"glob":{"type":"string"},"path":)" +
                                  kPath + R"(,"max_results":{"type":"integer","minimum":1,"maximum":1000},
          "case_insensitive":{"type":"boolean"})",
                              R"(,"pattern")"),
      .output_schema = R"({"type":"object","required":["matches","count","files_scanned","truncated"]})",
      .annotations = kRead,
      .handler = on_workspace(ws, [](WorkspaceService&, const WorkspaceRecord& w, const json::object& a) {
        return to_value(file_tools::search_files(w.path, {.pattern = json_fields::string_or(a, "pattern"),
                                                          .glob = json_fields::string_or(a, "glob"),
                                                          .path = json_fields::string_or(a, "path"),
                                                          .max_results = json_fields::int_or(a, "max_results", 100),
                                                          .case_insensitive = json_fields::bool_or(a, "case_insensitive", false)}));
      }),
  });
  specs.push_back({
      .name = "get_workspace_diff",
      .title = "Workspace diff",
      .description = "Files added, modified and deleted in a workspace since it was created, with unified diffs "
                     "for text files (64 KiB per file, 1 MiB in all). Original contents come from the source "
                     "directory; when it changed since creation the diff says the original is not available.",
      .input_schema = with_id("", ""),
      .output_schema = R"({"type":"object","required":["workspace_id","summary","files"]})",
      .annotations = kRead,
      .handler = on_workspace(ws, [](WorkspaceService& svc, const WorkspaceRecord& w, const json::object&)
                                      -> Result<json::value> {
        auto src = svc.change_sources(w);
        if (!src) return src.error();
        auto d = workspace_diff(*src, {});
        if (!d) return d.error();
        (*d)["workspace_id"] = w.id;
        (*d)["mode"] = svc.mode_of(w);
        return json::value(std::move(*d));
      }),
  });
  specs.push_back({
      .name = "export_workspace",
      .title = "Export workspace",
      .description = "Write the workspace (or with changes_only only its added and modified files; deletions "
                     "are listed in the result) into an archive in the server's state directory and return "
                     "its path and size. format: tar.gz (default) or zip.",
      .input_schema = with_id(R"(,"format":{"type":"string","enum":["tar.gz","zip"]},"changes_only":{"type":"boolean"})", ""),
      .output_schema = R"({"type":"object","required":["path","format","size_bytes","entries","changes_only","deleted"]})",
      .annotations = {.read_only = false, .destructive = false, .idempotent = false, .open_world = false},
      .handler = on_workspace(ws, [](WorkspaceService& svc, const WorkspaceRecord& w, const json::object& a)
                                      -> Result<json::value> {
        auto src = svc.change_sources(w);
        if (!src) return src.error();
        const std::string format = json_fields::string_or(a, "format", "tar.gz");
        return to_value(export_archive(*src, format, json_fields::bool_or(a, "changes_only", false),
                                       svc.exports_dir() + "/" + export_name(w.id, format)));
      }),
  });
  specs.push_back({
      .name = "apply_changes",
      .title = "Apply changes",
      .description = "Write the workspace's added and modified files into its source directory (or target_path, "
                     "a directory the operator listed in sandbox.apply_targets) and delete there the files deleted "
                     "in the workspace. Nothing is written through a symlink. Credentials and system paths are "
                     "never touched; VCS metadata (.git/, .hg/, .svn/), new top-level dotfiles, symlinks leading "
                     "out of the target and new executable bits are withheld unless include names them; the "
                     "result lists what was withheld and why.",
      .input_schema = with_id(
          R"(,"target_path":{"type":"string","minLength":1,"maxLength":4096,"description":"Absolute path of an existing directory: the workspace's source (the default) or one inside sandbox.apply_targets"},)"
          R"("include":{"type":"array","maxItems":1000,"items":{"type":"string","minLength":1,"maxLength":4096},"description":"Paths, directories or globs whose withheld changes (VCS metadata, new top-level dotfiles, symlinks leading out, executable bits) are applied after all"})",
          ""),
      .output_schema = R"({"type":"object","required":["target","written","deleted","withheld","written_count","deleted_count","withheld_count"],"properties":{"withheld":{"type":"array","items":{"type":"object","required":["path","change","reason"]}}}})",
      .annotations = kWrite,
      .handler = on_workspace(ws, [](WorkspaceService& svc, const WorkspaceRecord& w, const json::object& a)
                                      -> Result<json::value> {
        std::vector<std::string> include;
        if (auto* inc = a.if_contains("include"); inc && inc->is_array()) {
          for (const auto& v : inc->as_array()) include.emplace_back(v.as_string());
        }
        return to_value(svc.apply_changes(w, json_fields::string_or(a, "target_path"), include));
      }),
  });
  for (auto& spec : specs) {
    if (auto st = r.add(std::move(spec)); !st) return st;
  }
  return ok_status();
}

}  // namespace isb::operations
