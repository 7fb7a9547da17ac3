// workspace_changes.hpp: what changed in a workspace since its creation, and
// taking those changes back (as a diff, an archive, or into a directory).
//
// At creation a manifest records every file and symlink of the new workspace
// (path, type, mode, size, mtime, link target). Changes are the differences
// between the workspace now and that manifest. Ownership is deliberately not
// compared: an isolation backend may chown the workspace to a sandbox uid.
// For unified diffs the original content is read from the source, and only
// when the source file still matches the manifest (size and mtime); otherwise
// the diff says the original is no longer available.
//
//   ChangeSources src{.workspace = w.path, .source = w.source_path, .manifest = m};
//   auto diff = workspace_diff(src, {});
//
// Threading: stateless free functions; concurrent writers to the workspace
// may make a result describe a mix of before and after.
#pragma once

#include <isb/core/result.hpp>

#include <boost/json/object.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace isb {

//! Where a workspace's change set comes from.
struct ChangeSources {
  std::string workspace;  // the workspace directory
  std::string source;     // the directory it was created from
  std::string manifest;   // copy mode: the manifest file written at creation
  //! Overlay mode: the upper layer, which is the change set (regular files and
  //! symlinks: added or modified; 0/0 character devices: deleted; opaque
  //! directories: everything below them in the source deleted). The source is
  //! the lower layer and must not have changed. Empty in copy mode.
  std::string upper;
  //! sandbox.secret_paths: never listed as deleted (they were hidden at
  //! creation), never applied.
  std::vector<std::string> secret_paths;
};

//! Writes the manifest of tree `root` to manifest_path (atomically: a
//! temporary file renamed into place). Returns the number of entries.
Result<int64_t> record_manifest(const std::string& root, const std::string& manifest_path);

struct FileChange {
  enum class Kind { kAdded, kModified, kDeleted };
  std::string path;
  Kind kind;
  bool symlink = false;  // true: the (new or old) entry is a symlink
};
const char* change_kind_name(FileChange::Kind k);

//! Added, modified and deleted files and symlinks, sorted by path.
Result<std::vector<FileChange>> compute_changes(const ChangeSources& src);

struct DiffOptions {
  int64_t max_file_diff_bytes = 64 * 1024;   // per file; longer diffs are cut and say so
  int64_t max_total_diff_bytes = 1 << 20;    // whole answer
  int64_t max_diff_input_bytes = 2 << 20;    // files larger than this get no line diff
};
//! {workspace, summary:{added,modified,deleted}, files:[{path,status,type,diff?,diff_note?}]}
Result<boost::json::object> workspace_diff(const ChangeSources& src, const DiffOptions& opts);

//! Line-based unified diff (3 lines of context) of old_text -> new_text with
//! "--- a/path" / "+++ b/path" headers; empty when equal.
std::string unified_diff(const std::string& old_text, const std::string& new_text, const std::string& path);

//! Writes the workspace (or only its added/modified entries) to out_path as
//! "tar.gz" or "zip". {path, format, size_bytes, entries, changes_only, deleted:[...]}
Result<boost::json::object> export_archive(const ChangeSources& src, const std::string& format, bool changes_only,
                                           const std::string& out_path);

//! Writes added/modified files into target (an existing directory; every
//! entry resolved beneath it without following symlinks, each file streamed
//! with its holes into a temporary file renamed into place) and deletes
//! there what was deleted in the workspace, under workspaces/apply_policy.hpp:
//! secrets and system paths never, VCS metadata, new top-level dotfiles,
//! symlinks leading out and new executable bits only when include names them.
//! {target, written:[...], deleted:[...], withheld:[{path, change, reason}], *_count}
Result<boost::json::object> apply_changes_to(const ChangeSources& src, const std::string& target,
                                             const std::vector<std::string>& include = {});

}  // namespace isb
