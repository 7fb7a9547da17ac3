// workspace_creation.cpp: WorkspaceService::create as one pipeline. Each step
// either adds to the workspace or refuses; what a step made is pushed on one
// UndoStack at once, so that a failure in any later step undoes exactly what
// exists, newest first:
//
//   check          everything refusable, before anything is made
//   reserve        under create_mu_: the id, max_workspaces, the directory
//   prepare_tree   an archive unpacked, or a snapshot of the source (overlay)
//   make_overlay   the layers and the mount, or a fallback to copy
//   make_copy      the copy (onto a disk image, or staged and moved in place)
//   make_sandbox   the backend's sandbox, unless the overlay step made it
//   record         meta.json and the store row
// host paths only: the workspaces and meta dirs the server owns, and the client's source checked by
// SourcePathPolicy before any step reads it.
#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <boost/json/serialize.hpp>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <isb/core/file_tools.hpp>
#include <isb/core/workspace_service.hpp>

#include "ids/random_id.hpp"
#include "json/json_fields.hpp"
#include "workspaces/archive_import.hpp"
#include "workspaces/disk_image.hpp"
#include "workspaces/overlay_mount.hpp"
#include "workspaces/safe_path.hpp"
#include "workspaces/undo_stack.hpp"

namespace fs = std::filesystem;
namespace json = boost::json;

namespace isb {

namespace {

json::object limits_json(const ResourceLimits& l) {
  return {{"memory_mb", l.memory_mb},
          {"cpu_cores", l.cpu_cores},
          {"disk_mb", l.disk_mb},
          {"max_processes", l.max_processes},
          {"max_open_files", l.max_open_files}};
}

std::string join(const std::vector<std::string>& items, const char* sep) {
  std::string out;
  for (const auto& i : items) out += (out.empty() ? "" : sep) + i;
  return out;
}

Status write_json_file(const std::string& path, const json::object& o) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);  // host path: a meta dir file
    out << json::serialize(o);
    if (!out) return make_error(ErrorCode::kUnavailable, "cannot write " + tmp);
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);  // host path: a meta dir file
  if (ec) return make_error(ErrorCode::kUnavailable, "cannot write " + path + ": " + ec.message());
  return ok_status();
}

void remove_dir(const fs::path& p) {
  if (auto st = workspaces::remove_directory_tree(p.string()); !st) {
    spdlog::warn("could not remove {}: {}", p.string(), st.error().message);
  }
}

void unmount(const fs::path& p) {
  if (auto st = workspaces::unmount_if_mounted(p.string()); !st) spdlog::warn("{}", st.error().message);
}

json::array string_array(const std::vector<std::string>& items) {
  json::array out;
  for (const auto& i : items) out.push_back(json::value(i));
  return out;
}

}  // namespace

//! One create() call. Ownership: refers to the service and the request, which
//! outlive it. Threading: one thread; the steps from reserve() on run under
//! the service's create_mu_.
class WorkspaceService::Creation {
 public:
  Creation(WorkspaceService& ws, const CreateRequest& req) : ws_(ws), req_(req), cfg_(ws.config_) {}

  Result<json::object> run() {
    if (Status st = check(); !st) return st.error();
    std::lock_guard<std::mutex> lock(ws_.create_mu_);
    for (auto step : {&Creation::reserve, &Creation::prepare_tree, &Creation::make_overlay,
                      &Creation::make_copy, &Creation::make_sandbox, &Creation::record}) {
      if (Status st = (this->*step)(); !st) {
        undo_.undo();
        return st.error();
      }
    }
    undo_.commit();
    return result();
  }

 private:
  Status check();
  Status reserve();
  Status prepare_tree();
  Status make_overlay();
  Status make_copy();
  Status make_sandbox();
  Status record();
  json::object result() const;

  //! Makes the disk image for disk_mb and mounts it at mount_point.
  Status make_disk_image(const std::string& mount_point, uid_t uid, gid_t gid, mode_t mode);
  //! Takes the sandbox a backend made; its destruction is undone last-in.
  void adopt_sandbox(json::value made);

  WorkspaceService& ws_;
  const CreateRequest& req_;
  const Config& cfg_;
  workspaces::UndoStack undo_;

  // check()
  std::string id_;
  bool archive_ = false;
  std::string source_;  // the checked source (an archive: its canonical path)
  std::optional<IsolationPlugin> backend_;
  ResourceLimits limits_;
  json::value limits_doc_;
  IsolationAssessment assessment_;
  std::string image_;
  std::string mode_;
  bool disk_image_ = false;  // disk_mb is a kernel limit here (see make_disk_image)
  // reserve()
  fs::path final_path_;
  fs::path staging_;
  std::string meta_;
  // the steps' results
  std::string tree_source_;  // what is copied or lies under the overlay
  json::object meta_doc_;
  json::object archive_report_;
  json::object snapshot_report_;
  json::object overlay_report_;
  std::string mode_note_;
  CopyReport copied_;
  std::optional<json::value> sandbox_;
  std::string sandbox_id_;
  WorkspaceRecord record_;
};

Status WorkspaceService::Creation::check() {
  id_ = req_.workspace_id.empty() ? "ws-" + ids::random_hex(12) : req_.workspace_id;
  if (auto st = validate_workspace_id(id_); !st) return st;
  // An archive source is checked like a directory source by its folder.
  std::error_code aec;
  // host path: the client's archive path
  archive_ = workspaces::is_archive_path(req_.source_path) && fs::is_regular_file(req_.source_path, aec);
  // A session whose client offered roots may only take sources beneath them.
  const std::optional<SourcePathPolicy> session_policy =
      req_.client_roots ? std::optional<SourcePathPolicy>(ws_.policy_.restricted_to(*req_.client_roots))
                        : std::nullopt;
  const SourcePathPolicy& policy = session_policy ? *session_policy : ws_.policy_;
  Result<std::string> source = archive_ ? policy.check(fs::path(req_.source_path).parent_path().string())
                                        : policy.check(req_.source_path);
  if (!source) return source.error();
  source_ = *source;
  // host path: the client's archive path
  if (archive_) source_ = (fs::path(source_) / fs::canonical(req_.source_path, aec).filename()).string();

  auto backend = req_.isolation.backend.empty() ? Result<IsolationPlugin>(ws_.backends_.default_backend())
                                                : ws_.backends_.get(req_.isolation.backend);
  if (!backend) return backend.error();
  backend_ = std::move(*backend);
  auto limits = ws_.effective_limits(req_.isolation.resource_limits);
  if (!limits) return limits.error();
  limits_ = *limits;
  limits_doc_ = limits_json(limits_);
  auto assessment = ws_.backends_.assess(*backend_, cfg_.security.level);
  if (!assessment) return assessment.error();
  assessment_ = std::move(*assessment);
  if (!assessment_.missing.empty() && !cfg_.security.allow_degraded) {
    return make_error(ErrorCode::kFailedPrecondition,
                      std::string("security.level '") + security_level_name(cfg_.security.level) +
                          "' requires protections that isolation backend '" + backend_->info().id +
                          "' does not enforce on this host: " + join(assessment_.missing, "; ") +
                          ". Use a backend that enforces them, lower security.level, or set "
                          "security.allow_degraded: true to accept degraded workspaces." +
                          (assessment_.fixes.empty()
                               ? std::string()
                               : " To enforce them on this host: " + join(assessment_.fixes, "; or ") + "."));
  }
  image_ = req_.isolation.image.empty() ? cfg_.isolation.container_image : req_.isolation.image;
  mode_ = req_.mode.empty() ? cfg_.sandbox.workspace_mode : req_.mode;
  if (mode_ != "copy" && mode_ != "overlay") {
    return make_error(ErrorCode::kInvalidArgument, "mode '" + mode_ + "' is unknown; use copy or overlay");
  }
  if (req_.snapshot && mode_ != "overlay") {
    return make_error(
        ErrorCode::kInvalidArgument,
        "snapshot applies to mode overlay only (a copy is a snapshot already); drop snapshot or use "
        "mode: overlay");
  }
  // disk_mb as a kernel limit where this host can make disk images: the
  // workspace's files (the copy, or the overlay's layers) go on an image of
  // that size. Elsewhere the executor and a watch measure usage instead.
  disk_image_ = limits_.disk_mb > 0 && cfg_.sandbox.disk_images && !workspaces::disk_images_unavailable();
  return ok_status();
}

Status WorkspaceService::Creation::reserve() {
  auto existing = ws_.store_.get_workspace(id_);
  if (!existing) return existing.error();
  if (*existing) {
    return make_error(
        ErrorCode::kAlreadyExists,
        "workspace '" + id_ + "' already exists" +
            ((*existing)->status == "destroyed" ? " (destroyed; its history is kept under this id)" : "") +
            "; choose another workspace_id or omit it");
  }
  auto active = ws_.store_.count_active_workspaces();
  if (!active) return active.error();
  if (*active >= cfg_.sandbox.max_workspaces) {
    return make_error(ErrorCode::kResourceExhausted,
                      "max_workspaces reached (" + std::to_string(*active) + " of " +
                          std::to_string(cfg_.sandbox.max_workspaces) +
                          " active); destroy a workspace first or raise sandbox.max_workspaces");
  }
  final_path_ = fs::path(cfg_.workspaces_dir()) / id_;
  staging_ = fs::path(cfg_.workspaces_dir()) / (".creating-" + id_ + "-" + ids::random_hex(6));
  std::error_code ec;
  if (fs::exists(final_path_, ec)) {  // host path: the workspace root
    return make_error(ErrorCode::kAlreadyExists, "directory " + final_path_.string() +
                                                     " already exists but no workspace owns it; remove it or "
                                                     "choose another workspace_id");
  }
  meta_ = ws_.meta_dir(id_);
  remove_dir(meta_);  // left by a crash during an earlier creation under this id
  // From here on, whatever a step makes under these names is this creation's.
  undo_.push("remove the meta dir", [this] { remove_dir(meta_); });
  undo_.push("unmount and remove the workspace", [this] {
    unmount(final_path_);
    remove_dir(final_path_);
    ws_.drop_disk_image(id_);
  });
  tree_source_ = source_;
  return ok_status();
}

Status WorkspaceService::Creation::prepare_tree() {
  std::error_code ec;
  // An archive is unpacked once into the state dir; that pristine tree is
  // then the source of the copy or the overlay's lower layer, and the
  // original side of diffs.
  if (archive_) {
    tree_source_ = meta_ + "/base";
    fs::create_directories(tree_source_, ec);  // host path: the meta dir
    auto imported =
        workspaces::import_archive(source_, tree_source_, workspaces::SecretPaths(cfg_.sandbox.secret_paths));
    if (!imported) {
      return make_error(imported.error().code,
                        "unpacking " + source_ + " failed: " + imported.error().message);
    }
    archive_report_ = json::object{{"files", imported->files},
                                   {"directories", imported->directories},
                                   {"symlinks", imported->symlinks},
                                   {"bytes", imported->bytes},
                                   {"skipped_entries", string_array(imported->skipped)}};
    meta_doc_["base"] = tree_source_;
    return ok_status();
  }
  // snapshot: the overlay's lower layer is a private copy of the source (like
  // an unpacked archive), so the source may change freely afterwards.
  if (req_.snapshot) {
    tree_source_ = meta_ + "/base";
    const int64_t started = now_ms();
    auto snap = copy_tree(source_, tree_source_, cfg_.sandbox.copy_excludes, cfg_.sandbox.secret_paths);
    if (!snap)
      return make_error(snap.error().code, "snapshotting " + source_ + " failed: " + snap.error().message);
    snapshot_report_ = json::object{{"path", tree_source_},
                                    {"files", snap->files},
                                    {"bytes", snap->bytes},
                                    {"duration_ms", now_ms() - started}};
    meta_doc_["base"] = tree_source_;
  }
  return ok_status();
}

Status WorkspaceService::Creation::make_disk_image(const std::string& mount_point, uid_t uid, gid_t gid,
                                                   mode_t mode) {
  std::error_code ec;
  fs::create_directories(meta_, ec);        // host path: the meta dir
  fs::create_directories(mount_point, ec);  // host path: the image mount point
  if (ec) return make_error(ErrorCode::kUnavailable, "cannot create " + mount_point + ": " + ec.message());
  return workspaces::create_disk_image(ws_.disk_image_path(id_), limits_.disk_mb, mount_point, uid, gid,
                                       mode);
}

void WorkspaceService::Creation::adopt_sandbox(json::value made) {
  sandbox_ = std::move(made);
  sandbox_id_ = json_fields::string_or(*sandbox_, "sandbox_id");
  if (sandbox_id_.empty()) sandbox_id_ = id_;
  undo_.push("destroy the sandbox", [this] { (void)backend_->destroy_sandbox(sandbox_id_); });
}

Status WorkspaceService::Creation::make_overlay() {
  if (mode_ != "overlay") return ok_status();
  if (disk_image_) {
    if (auto st = make_disk_image(meta_ + "/disk", 0, 0, 0755); !st) {
      return make_error(st.error().code,
                        "creating the disk image of workspace '" + id_ + "' failed: " + st.error().message);
    }
  }
  // A backend that mounts the overlay itself gets the layers in its sandbox
  // spec; whether it can mount them here decides between overlay and copy.
  auto hidden = assessment_.mounts_overlay
                    ? ws_.prepare_overlay_layers(id_, tree_source_, final_path_.string())
                    : ws_.mount_overlay_workspace(id_, tree_source_, final_path_.string());
  if (hidden && assessment_.mounts_overlay) {
    auto made = backend_->create_sandbox(
        ws_.sandbox_spec(id_, final_path_.string(), limits_doc_, image_, tree_source_));
    if (made) {
      adopt_sandbox(std::move(*made));
    } else if (made.error().code == ErrorCode::kFailedPrecondition) {  // ISB_NOT_SUPPORTED: no overlay here
      hidden = make_error(ErrorCode::kUnavailable, made.error().message);
    } else {
      return make_error(made.error().code,
                        "creating the sandbox for workspace '" + id_ + "' failed: " + made.error().message);
    }
  }
  if (hidden) {
    overlay_report_ = json::object{{"lower", tree_source_},
                                   {"upper", ws_.layers_dir(id_) + "/upper"},
                                   {"hidden", string_array(*hidden)}};
    return ok_status();
  }
  // No overlay here: what was made for it goes, and the workspace is copied.
  unmount(final_path_);
  remove_dir(final_path_);
  remove_dir(ws_.layers_dir(id_) + "/upper");
  remove_dir(ws_.layers_dir(id_) + "/work");
  ws_.drop_disk_image(id_);
  mode_ = "copy";
  mode_note_ =
      "overlay is unavailable here (" + hidden.error().message + "); the workspace was copied instead";
  spdlog::warn("workspace {}: {}", id_, mode_note_);
  return ok_status();
}

Status WorkspaceService::Creation::make_copy() {
  if (mode_ != "copy") return ok_status();
  const std::string manifest = meta_ + "/manifest.json";
  if (disk_image_) {
    // Straight onto the image mounted at the workspace path: a crash
    // midway leaves a mount no workspace owns, which the next start removes.
    struct stat src_st {};
    ::stat(tree_source_.c_str(), &src_st);  // host path: the source root
    auto st = make_disk_image(final_path_.string(), src_st.st_uid, src_st.st_gid, src_st.st_mode);
    auto c = st ? copy_tree(tree_source_, final_path_.string(), cfg_.sandbox.copy_excludes,
                            cfg_.sandbox.secret_paths, /*into_existing=*/true)
                : Result<CopyReport>(st.error());
    auto m = c ? record_manifest(final_path_.string(), manifest) : Result<int64_t>(c.error());
    if (!m) {
      std::string why = m.error().message;
      if (why.find(std::strerror(ENOSPC)) != std::string::npos) {
        why += " (the source does not fit in the workspace's disk limit of " +
               std::to_string(limits_.disk_mb) +
               " MB, resource_limits.disk_mb: exclude build output with .sandboxignore or "
               "sandbox.copy_excludes, or "
               "ask for more)";
      }
      return make_error(m.error().code,
                        "copying " + source_ + " onto the workspace's disk image failed: " + why);
    }
    copied_ = std::move(*c);
    return ok_status();
  }
  undo_.push("remove the staging copy", [this] { remove_dir(staging_); });
  auto c = copy_tree(tree_source_, staging_.string(), cfg_.sandbox.copy_excludes, cfg_.sandbox.secret_paths);
  if (!c) return make_error(c.error().code, "copying " + source_ + " failed: " + c.error().message);
  copied_ = std::move(*c);
  if (auto m = record_manifest(staging_.string(), manifest); !m) return m.error();
  std::error_code ec;
  fs::rename(staging_, final_path_, ec);  // host path: the workspaces dir
  if (ec) return make_error(ErrorCode::kUnavailable, "cannot move the workspace into place: " + ec.message());
  return ok_status();
}

Status WorkspaceService::Creation::make_sandbox() {
  std::error_code ec;
  fs::create_directories(meta_, ec);  // host path: the meta dir
  meta_doc_["mode"] = mode_;
  if (sandbox_) return ok_status();  // the overlay step made it
  auto made = backend_->create_sandbox(ws_.sandbox_spec(id_, final_path_.string(), limits_doc_, image_, ""));
  if (!made) {
    return make_error(made.error().code,
                      "creating the sandbox for workspace '" + id_ + "' failed: " + made.error().message);
  }
  adopt_sandbox(std::move(*made));
  return ok_status();
}

Status WorkspaceService::Creation::record() {
  if (auto st = write_json_file(meta_ + "/meta.json", meta_doc_); !st) return st;
  json::object isolation = assessment_.summary;
  if (backend_->info().id == ws_.backends_.default_id() && !ws_.backends_.note().empty()) {
    isolation["note"] = ws_.backends_.note();
  }
  // How the sandbox user came to own the files (idmapped, or every file chowned).
  for (const char* key : {"workspace_ownership", "workspace_ownership_note", "workspace_mount"}) {
    if (std::string v = json_fields::string_or(*sandbox_, key); !v.empty()) isolation[key] = v;
  }
  if (backend_->info().id != "process") isolation["image"] = image_;
  if (limits_.disk_mb > 0) isolation["disk_limit"] = ws_.disk_limit_enforcement(limits_.disk_mb, disk_image_);

  WorkspaceRecord& w = record_;
  w.id = id_;
  w.source_path = source_;
  w.path = final_path_.string();
  w.backend = backend_->info().id;
  w.sandbox_id = sandbox_id_;
  w.status = "active";
  w.isolation_json = json::serialize(isolation);
  w.resource_limits_json = json::serialize(limits_doc_);
  w.created_at = w.last_used_at = now_ms();
  if (auto st = ws_.store_.insert_workspace(w); !st) return st;
  if (assessment_.missing.empty()) {
    spdlog::info("workspace {} created from {} ({} mode, {} files copied) on backend {}", id_, source_, mode_,
                 copied_.files, w.backend);
  } else {
    spdlog::warn("workspace {} created DEGRADED on backend {} (security.allow_degraded): missing {}", id_,
                 w.backend, join(assessment_.missing, "; "));
  }
  return ok_status();
}

json::object WorkspaceService::Creation::result() const {
  json::object out = ws_.describe(record_);
  if (mode_ == "copy") {
    out["copy"] = json::object{{"files", copied_.files},
                               {"directories", copied_.directories},
                               {"symlinks", copied_.symlinks},
                               {"bytes", copied_.bytes},
                               {"skipped_credentials", string_array(copied_.skipped_credentials)},
                               {"skipped_special", static_cast<int64_t>(copied_.skipped_special.size())},
                               {"skipped_ignored", static_cast<int64_t>(copied_.skipped_ignored.size())}};
  } else {
    json::object overlay = overlay_report_;
    if (!snapshot_report_.empty()) {
      overlay["snapshot"] = snapshot_report_;
    } else if (!archive_) {
      overlay["caveat"] =
          "the source directory is the overlay's read-only lower layer: changes made to it while the "
          "workspace "
          "lives show through into the workspace (overlayfs leaves that undefined); create it with snapshot: "
          "true "
          "to copy the source first";
    }
    out["overlay"] = overlay;
  }
  if (!mode_note_.empty()) out["mode_note"] = mode_note_;
  if (archive_) out["archive"] = archive_report_;
  return out;
}

Result<json::object> WorkspaceService::create(const CreateRequest& req) { return Creation(*this, req).run(); }

}  // namespace isb
