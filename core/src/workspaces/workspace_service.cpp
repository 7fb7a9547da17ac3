// workspace_service.cpp: listing, destroying and restoring workspaces, their
// limits, disk use and idle cleanup. Creating one is workspace_creation.cpp.
#include <isb/core/workspace_service.hpp>

#include <isb/core/file_tools.hpp>

#include "json/json_fields.hpp"
#include "workspaces/archive_import.hpp"
#include "workspaces/disk_image.hpp"
#include "workspaces/overlay_mount.hpp"
#include "workspaces/safe_path.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <spdlog/spdlog.h>

#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <sstream>

namespace fs = std::filesystem;
namespace json = boost::json;

namespace isb {

namespace {

std::string format_number(double v) {
  if (v == static_cast<double>(static_cast<int64_t>(v))) return std::to_string(static_cast<int64_t>(v));
  return json::serialize(json::value(v));
}

json::value parse_or_empty(const std::string& text) {
  boost::system::error_code ec;
  auto v = json::parse(text, ec);
  return ec ? json::value(json::object{}) : v;
}

json::object read_json_file(const std::string& path) {
  std::ifstream in(path);  // host path: a meta dir file
  std::stringstream ss;
  ss << in.rdbuf();
  auto v = parse_or_empty(ss.str());
  return v.is_object() ? v.as_object() : json::object{};
}

}  // namespace

WorkspaceService::WorkspaceService(const Config& config, Store& store, const IsolationBackends& backends)
    : config_(config),
      store_(store),
      backends_(backends),
      policy_(config.sandbox.allowed_source_roots, {config.state_dir(), config.workspaces_dir()}) {}

json::object WorkspaceService::describe(const WorkspaceRecord& w) const {
  return json::object{{"workspace_id", w.id},
                      {"path", w.path},
                      {"source_path", w.source_path},
                      {"backend", w.backend},
                      {"status", w.status},
                      {"created_at", format_time(w.created_at)},
                      {"last_used_at", format_time(w.last_used_at)},
                      {"isolation", parse_or_empty(w.isolation_json)},
                      {"resource_limits", parse_or_empty(w.resource_limits_json)},
                      {"mode", mode_of(w)}};
}

std::string WorkspaceService::meta_dir(const std::string& id) const {
  return (fs::path(config_.state_dir()) / "workspace-meta" / id).string();
}

std::string WorkspaceService::disk_image_path(const std::string& id) const { return meta_dir(id) + "/disk.img"; }

std::string WorkspaceService::layers_dir(const std::string& id) const {
  // An overlay's layers live on the workspace's disk image when it has one.
  std::error_code ec;
  return fs::exists(disk_image_path(id), ec) ? meta_dir(id) + "/disk" : meta_dir(id);  // host path: the meta dir
}

void WorkspaceService::drop_disk_image(const std::string& id) const {
  for (const auto& m : {meta_dir(id) + "/disk"}) {
    if (auto st = workspaces::unmount_if_mounted(m); !st) spdlog::warn("{}", st.error().message);
    ::rmdir(m.c_str());  // host path: the meta dir
  }
  ::unlink(disk_image_path(id).c_str());  // host path: the meta dir
}

std::string WorkspaceService::exports_dir() const { return (fs::path(config_.state_dir()) / "exports").string(); }

std::string WorkspaceService::mode_of(const WorkspaceRecord& w) const {
  auto meta = read_json_file(meta_dir(w.id) + "/meta.json");
  return json_fields::string_or(meta, "mode") == "overlay" ? "overlay" : "copy";
}

Result<ChangeSources> WorkspaceService::change_sources(const WorkspaceRecord& w) const {
  const std::string base = json_fields::string_or(read_json_file(meta_dir(w.id) + "/meta.json"), "base");
  ChangeSources src{.workspace = w.path,
                    .source = base.empty() ? w.source_path : base,
                    .manifest = meta_dir(w.id) + "/manifest.json",
                    .upper = "",
                    .secret_paths = config_.sandbox.secret_paths};
  if (mode_of(w) == "overlay") {
    src.upper = layers_dir(w.id) + "/upper";
    if (!workspaces::is_mount_point(w.path)) {
      return make_error(ErrorCode::kUnavailable, "the overlay of workspace '" + w.id +
                                                     "' is not mounted; restart the server to re-mount it");
    }
  }
  return src;
}

Result<json::object> WorkspaceService::apply_changes(const WorkspaceRecord& w, const std::string& target_path,
                                                    const std::vector<std::string>& include) {
  // The default target is the workspace's own source; any other must be
  // listed in sandbox.apply_targets (the operator's choice, not the agent's).
  std::string target = target_path;
  std::error_code ec;
  if (target.empty()) {
    if (!fs::is_directory(w.source_path, ec)) {  // host path: the operator's source
      return make_error(ErrorCode::kInvalidArgument,
                        "workspace '" + w.id + "' was made from " + w.source_path +
                            ", not a directory, so it has no default target; give target_path (a directory listed in "
                            "sandbox.apply_targets)");
    }
    target = w.source_path;
  }
  auto checked = policy_.check(target);
  if (!checked) return make_error(checked.error().code, "target_path refused: " + checked.error().message);
  const fs::path canonical(*checked);
  bool listed = canonical == fs::weakly_canonical(w.source_path, ec);  // host path: the operator's source
  for (const auto& t : config_.sandbox.apply_targets) {
    if (listed) break;
    const fs::path root = fs::weakly_canonical(t, ec);  // host path: an operator-configured target
    auto rel = canonical.lexically_relative(root);
    listed = !ec && !rel.empty() && *rel.begin() != "..";
  }
  if (!listed) {
    return make_error(ErrorCode::kPermissionDenied,
                      "target_path '" + target_path + "' is not the workspace's source (" + w.source_path +
                          ") nor inside a directory of sandbox.apply_targets; omit target_path to apply to the source, "
                          "or ask the operator to list the directory in sandbox.apply_targets");
  }
  auto src = change_sources(w);
  if (!src) return src.error();
  auto r = apply_changes_to(*src, *checked, include);
  if (r) spdlog::info("workspace {}: changes applied to {} ({} written, {} deleted, {} withheld)", w.id, *checked,
                      r->at("written_count").as_int64(), r->at("deleted_count").as_int64(),
                      r->at("withheld_count").as_int64());
  return r;
}

Result<WorkspaceRecord> WorkspaceService::use(const std::string& workspace_id) {
  auto w = get_active(workspace_id);
  if (!w) return w;
  touch(workspace_id);
  return w;
}

Result<WorkspaceService::DiskUsage> WorkspaceService::disk_usage(const WorkspaceRecord& w) const {
  auto limits = parse_or_empty(w.resource_limits_json);
  int64_t disk_mb = 0;
  if (limits.is_object()) {
    if (auto* d = limits.as_object().if_contains("disk_mb"); d && d->is_number()) disk_mb = d->to_number<int64_t>();
  }
  DiskUsage u;
  if (disk_mb <= 0) return u;
  u.limit_bytes = disk_mb * 1024 * 1024;
  std::error_code ec;
  if (fs::exists(disk_image_path(w.id), ec)) {  // host path: the meta dir
    // The image's blocks in use: what the kernel counts against the limit.
    const std::string mount = mode_of(w) == "overlay" ? meta_dir(w.id) + "/disk" : w.path;
    struct statvfs sv {};
    // host path: the workspace root (a mount point)
    if (workspaces::is_mount_point(mount) && ::statvfs(mount.c_str(), &sv) == 0) {
      // What is left to the sandbox is the free space: full means at the limit.
      u.kernel_enforced = true;
      u.used_bytes = std::max<int64_t>(0, u.limit_bytes - static_cast<int64_t>(sv.f_bavail * sv.f_frsize));
      return u;
    }
  }
  // An overlay workspace only occupies its upper layer; the source is shared.
  const std::string measured = mode_of(w) == "overlay" ? layers_dir(w.id) + "/upper" : w.path;
  auto used = file_tools::disk_usage_bytes(measured);
  if (!used) return used.error();
  u.used_bytes = *used;
  return u;
}

Result<int64_t> WorkspaceService::disk_quota_remaining(const WorkspaceRecord& w) const {
  auto u = disk_usage(w);
  if (!u) return u.error();
  if (u->limit_bytes <= 0) return int64_t{-1};
  return std::max<int64_t>(0, u->limit_bytes - u->used_bytes);
}

Status WorkspaceService::check_disk_quota(const WorkspaceRecord& w) const {
  auto u = disk_usage(w);
  if (!u) return u.error();
  if (!u->over()) return ok_status();
  auto mb = [](int64_t b) { return std::to_string((b + 1024 * 1024 - 1) / (1024 * 1024)); };
  if (u->kernel_enforced) {
    return make_error(ErrorCode::kResourceExhausted,
                      "workspace '" + w.id + "' has filled its disk: it is at its disk limit of " + mb(u->limit_bytes) +
                          " MB (resource_limits.disk_mb); delete files with delete_file to make room, then try again");
  }
  return make_error(ErrorCode::kResourceExhausted,
                    "workspace '" + w.id + "' uses " + std::to_string(u->used_bytes) + " bytes (about " +
                        mb(u->used_bytes) + " MB), over its disk limit of " + mb(u->limit_bytes) +
                        " MB (resource_limits.disk_mb); delete files with delete_file until it is under the "
                        "limit, then try again");
}

Result<std::vector<std::string>> WorkspaceService::prepare_overlay_layers(const std::string& id,
                                                                          const std::string& source,
                                                                          const std::string& merged) {
  const std::string upper = layers_dir(id) + "/upper";
  std::error_code ec;
  for (const auto& d : {upper, layers_dir(id) + "/work", merged}) {
    fs::create_directories(d, ec);  // host path: layer roots in the meta dir, the workspace root
    if (ec) return make_error(ErrorCode::kUnavailable, "cannot create " + d + ": " + ec.message());
  }
  // The merged root shows the upper root's owner and mode: make them the
  // source root's, whose owner is the one the sandbox user is mapped from.
  struct stat st {};
  // host path: the source root and the upper layer root
  if (::stat(source.c_str(), &st) < 0 || ::chmod(upper.c_str(), st.st_mode & 07777) < 0 ||
      (::geteuid() == 0 && ::chown(upper.c_str(), st.st_uid, st.st_gid) < 0)) {  // host path: the upper layer root
    return make_error(ErrorCode::kUnavailable,
                      "cannot give the overlay's upper layer " + upper + " the owner of " + source + ": " +
                          std::strerror(errno));
  }
  return workspaces::hide_credentials(source, upper, config_.sandbox.copy_excludes,
                                     workspaces::SecretPaths(config_.sandbox.secret_paths));
}

Result<std::vector<std::string>> WorkspaceService::mount_overlay_workspace(const std::string& id,
                                                                           const std::string& source,
                                                                           const std::string& merged) {
  auto hidden = prepare_overlay_layers(id, source, merged);
  if (!hidden) return hidden;
  workspaces::OverlayLayout layout{
      .lower = source, .upper = layers_dir(id) + "/upper", .work = layers_dir(id) + "/work", .merged = merged};
  if (auto st = workspaces::mount_overlay(layout); !st) return st.error();
  return hidden;
}

json::object WorkspaceService::sandbox_spec(const std::string& id, const std::string& path, const json::value& limits,
                                            const std::string& image, const std::string& overlay_lower) const {
  json::object spec{{"workspace_id", id},
                    {"workspace_path", path},
                    {"resource_limits", limits},
                    {"image", image},
                    {"network", "none"}};
  if (!overlay_lower.empty()) {
    spec["overlay"] = json::object{
        {"lower", overlay_lower}, {"upper", layers_dir(id) + "/upper"}, {"work", layers_dir(id) + "/work"}};
  }
  return spec;
}

Result<ResourceLimits> WorkspaceService::effective_limits(const json::object& override_limits) const {
  const ResourceLimits& max = config_.isolation.resource_limits;
  ResourceLimits out = max;
  for (const auto& kv : override_limits) {
    const std::string key(kv.key());
    const json::value& v = kv.value();
    if (!v.is_number()) {
      return make_error(ErrorCode::kInvalidArgument, "isolation.resource_limits." + key + " must be a number");
    }
    double value = v.to_number<double>();
    auto bounded = [&](auto& field, double maximum, const char* config_key) -> Status {
      if (value <= 0) {
        return make_error(ErrorCode::kInvalidArgument, "isolation.resource_limits." + key + " must be positive");
      }
      if (value > maximum) {
        return make_error(ErrorCode::kPermissionDenied,
                          "isolation.resource_limits." + key + " = " + format_number(value) +
                              " exceeds the configured maximum " + format_number(maximum) + " (" +
                              config_key + "); ask for at most that, or raise it in the server's config");
      }
      field = static_cast<std::remove_reference_t<decltype(field)>>(value);
      return ok_status();
    };
    Status st = ok_status();
    if (key == "memory_mb") {
      st = bounded(out.memory_mb, static_cast<double>(max.memory_mb), "isolation.resource_limits.memory_mb");
    } else if (key == "cpu_cores") {
      st = bounded(out.cpu_cores, max.cpu_cores, "isolation.resource_limits.cpu_cores");
    } else if (key == "disk_mb") {
      st = bounded(out.disk_mb, static_cast<double>(max.disk_mb), "isolation.resource_limits.disk_mb");
    } else if (key == "max_processes") {
      st = bounded(out.max_processes, static_cast<double>(max.max_processes), "isolation.resource_limits.max_processes");
    } else if (key == "max_open_files") {
      st = bounded(out.max_open_files, static_cast<double>(max.max_open_files),
                   "isolation.resource_limits.max_open_files");
    } else {
      return make_error(ErrorCode::kInvalidArgument,
                        "unknown limit isolation.resource_limits." + key +
                            "; known: memory_mb, cpu_cores, disk_mb, max_processes, max_open_files");
    }
    if (!st) return st.error();
  }
  return out;
}

Result<IsolationPlugin> WorkspaceService::isolation_for(const WorkspaceRecord& w) const { return backends_.get(w.backend); }

Result<WorkspaceRecord> WorkspaceService::get_any(const std::string& workspace_id) const {
  if (auto st = validate_workspace_id(workspace_id); !st) return st.error();
  auto w = store_.get_workspace(workspace_id);
  if (!w) return w.error();
  if (!*w) {
    return make_error(ErrorCode::kNotFound,
                      "workspace '" + workspace_id + "' not found; list_workspaces shows the existing ones");
  }
  return **w;
}

Result<WorkspaceRecord> WorkspaceService::get_active(const std::string& workspace_id) const {
  auto w = get_any(workspace_id);
  if (!w) return w;
  if (w->status != "active") {
    return make_error(ErrorCode::kNotFound, "workspace '" + workspace_id + "' was destroyed at " +
                                                format_time(w->destroyed_at) +
                                                "; its history is still available with get_execution_history");
  }
  return w;
}

void WorkspaceService::touch(const std::string& workspace_id) { (void)store_.touch_workspace(workspace_id, now_ms()); }

Result<json::object> WorkspaceService::destroy(const std::string& workspace_id) {
  std::lock_guard<std::mutex> lock(create_mu_);
  return destroy_locked(workspace_id);
}

Result<json::object> WorkspaceService::destroy_locked(const std::string& workspace_id) {
  auto w = get_active(workspace_id);
  if (!w) return w.error();
  json::array warnings;
  auto backend = isolation_for(*w);
  if (!backend) {
    warnings.push_back(json::value("backend '" + w->backend + "' is not loaded; no sandbox could be stopped"));
  } else if (auto st = backend->destroy_sandbox(w->sandbox_id); !st) {
    // A sandbox the backend no longer knows (after a restart) has nothing left to kill.
    if (st.error().code != ErrorCode::kNotFound) return st.error();
    warnings.push_back(json::value("sandbox was already gone: " + st.error().message));
  }
  // An overlay is unmounted first: removing through it would only whiteout
  // the source in the upper layer, and leave the mount behind.
  if (auto st = workspaces::unmount_if_mounted(w->path); !st) {
    return make_error(ErrorCode::kUnavailable, "the sandbox of '" + workspace_id + "' was stopped but " +
                                                   st.error().message + "; call destroy again");
  }
  drop_disk_image(workspace_id);
  // The tree was the sandbox's: removed by descriptor, never through a link.
  auto removed = workspaces::remove_directory_tree(w->path);
  if (removed) removed = workspaces::remove_directory_tree(meta_dir(workspace_id));
  if (!removed) {
    return make_error(ErrorCode::kUnavailable, "the sandbox of '" + workspace_id + "' was stopped but " + w->path +
                                                   " could not be removed: " + removed.error().message +
                                                   "; call destroy again");
  }
  std::error_code ec;
  if (auto st = store_.mark_workspace_destroyed(workspace_id, now_ms()); !st) return st.error();
  spdlog::info("workspace {} destroyed", workspace_id);
  return json::object{{"workspace_id", workspace_id},
                      {"destroyed", true},
                      {"path", w->path},
                      {"path_removed", !fs::exists(w->path, ec)},  // host path: the workspace root
                      {"warnings", warnings}};
}

Result<json::object> WorkspaceService::list() const {
  auto rows = store_.list_workspaces(false);
  if (!rows) return rows.error();
  json::array items;
  for (const auto& w : *rows) items.push_back(describe(w));
  return json::object{{"workspaces", items},
                      {"count", static_cast<int64_t>(rows->size())},
                      {"max_workspaces", config_.sandbox.max_workspaces}};
}

void WorkspaceService::release_sandboxes() {
  stop_cleanup();
  auto rows = store_.list_workspaces(false);
  if (!rows) return;
  for (const auto& w : *rows) {
    auto backend = isolation_for(w);
    if (backend) {
      if (auto st = backend->destroy_sandbox(w.sandbox_id); !st && st.error().code != ErrorCode::kNotFound) {
        spdlog::warn("stopping the sandbox of workspace {}: {}", w.id, st.error().message);
      }
    }
    // The upper layer (or the disk image) keeps every change; the next
    // start mounts it again.
    if (auto st = workspaces::unmount_if_mounted(w.path); !st) spdlog::warn("{}", st.error().message);
    if (auto st = workspaces::unmount_if_mounted(meta_dir(w.id) + "/disk"); !st) spdlog::warn("{}", st.error().message);
  }
}

WorkspaceService::~WorkspaceService() { stop_cleanup(); }

void WorkspaceService::restore_sandboxes() {
  auto rows = store_.list_workspaces(false);
  if (!rows) return;
  // What a crashed run left: mounts and directories no active workspace owns.
  std::set<std::string> owned;
  for (const auto& w : *rows) owned.insert(fs::path(w.path).filename().string());
  const std::string ws_dir = config_.workspaces_dir();
  bool unmount_failed = false;
  for (const auto& m : workspaces::mounts_under(ws_dir)) {
    if (fs::path(m).parent_path() == fs::path(ws_dir) && owned.count(fs::path(m).filename().string())) continue;
    spdlog::warn("unmounting orphaned workspace mount {}", m);
    if (auto st = workspaces::unmount_if_mounted(m); !st) {
      spdlog::warn("{}", st.error().message);
      unmount_failed = true;
    }
  }
  std::error_code ec;
  // Never remove_all across a mount that is still there: it would delete
  // whatever that mount shows.
  // host path: the workspaces dir
  for (const auto& entry : fs::directory_iterator(unmount_failed ? fs::path() : fs::path(ws_dir), ec)) {
    const std::string name = entry.path().filename().string();
    if (owned.count(name) || workspaces::is_mount_point(entry.path().string())) continue;
    spdlog::warn("removing orphaned workspace directory {}", entry.path().string());
    (void)workspaces::remove_directory_tree(entry.path().string());
  }
  // host path: the meta dirs
  for (const auto& entry : fs::directory_iterator(fs::path(config_.state_dir()) / "workspace-meta", ec)) {
    if (owned.count(entry.path().filename().string())) continue;
    (void)workspaces::remove_directory_tree(entry.path().string());
  }
  // Overlays: the core re-mounts those whose backend does not mount them;
  // for the others, a mount a crashed run left goes (it was made for that
  // run's sandbox user) and the backend mounts the overlay again below.
  std::map<std::string, std::string> overlay_lower;  // workspace id -> lower layer
  std::map<std::string, bool> backend_mounts;        // backend id -> mounts overlays
  for (const auto& id : backends_.ids()) {
    auto probe = backends_.get(id)->probe();
    backend_mounts[id] = probe && backend_mounts_overlay(*probe);
  }
  // Disk images first: a copy's files or an overlay's layers live on them.
  for (const auto& w : *rows) {
    std::error_code iec;
    if (!fs::exists(disk_image_path(w.id), iec)) continue;  // host path: the meta dir
    const std::string at = mode_of(w) == "overlay" ? meta_dir(w.id) + "/disk" : w.path;
    if (auto st = workspaces::mount_disk_image(disk_image_path(w.id), at); !st) {
      spdlog::warn("workspace {}: cannot mount its disk image: {}", w.id, st.error().message);
    }
  }
  for (const auto& w : *rows) {
    if (mode_of(w) != "overlay") continue;
    const std::string base = json_fields::string_or(read_json_file(meta_dir(w.id) + "/meta.json"), "base");
    const std::string lower = base.empty() ? w.source_path : base;
    if (backend_mounts[w.backend]) {
      if (auto st = workspaces::unmount_if_mounted(w.path); !st) spdlog::warn("workspace {}: {}", w.id, st.error().message);
      overlay_lower[w.id] = lower;
      continue;
    }
    if (workspaces::is_mount_point(w.path)) continue;
    auto mounted = mount_overlay_workspace(w.id, lower, w.path);
    if (!mounted) spdlog::warn("workspace {}: cannot re-mount its overlay: {}", w.id, mounted.error().message);
  }
  // Each backend removes what an earlier (crashed) run left that no workspace owns.
  for (const auto& id : backends_.ids()) {
    auto backend = backends_.get(id);
    json::array known;
    for (const auto& w : *rows) {
      if (w.backend == id) known.push_back(json::value(w.sandbox_id));
    }
    if (auto r = backend->reconcile(known); !r) spdlog::warn("reconcile on backend {}: {}", id, r.error().message);
  }
  for (auto w : *rows) {
    std::error_code ec;
    if (!fs::is_directory(w.path, ec)) {  // host path: the workspace root
      spdlog::warn("workspace {}: directory {} is gone; marking it destroyed", w.id, w.path);
      (void)store_.mark_workspace_destroyed(w.id, now_ms());
      continue;
    }
    auto backend = isolation_for(w);
    if (!backend) {
      spdlog::warn("workspace {} was created on backend {}, which is not available now: {}", w.id, w.backend,
                   backend.error().message);
      continue;
    }
    std::string image = json_fields::string_or(parse_or_empty(w.isolation_json), "image");
    const auto lower = overlay_lower.find(w.id);
    auto r = backend->create_sandbox(sandbox_spec(w.id, w.path, parse_or_empty(w.resource_limits_json),
                                                  image.empty() ? config_.isolation.container_image : image,
                                                  lower == overlay_lower.end() ? "" : lower->second));
    if (!r) {
      spdlog::warn("workspace {}: could not recreate its sandbox: {}", w.id, r.error().message);
      if (lower != overlay_lower.end()) {
        // Without a sandbox, the file tools can still reach the files.
        auto mounted = mount_overlay_workspace(w.id, lower->second, w.path);
        if (!mounted) spdlog::warn("workspace {}: cannot mount its overlay: {}", w.id, mounted.error().message);
      }
      continue;
    }
    // A recreated sandbox may have a new id (a new container): remember it.
    std::string sandbox_id = json_fields::string_or(*r, "sandbox_id");
    if (!sandbox_id.empty() && sandbox_id != w.sandbox_id) {
      if (auto st = store_.set_workspace_sandbox(w.id, sandbox_id); !st) spdlog::warn("{}", st.error().message);
    }
  }
  start_cleanup();
}

WorkspaceService::Activity::~Activity() {
  if (!svc_) return;
  {
    std::lock_guard<std::mutex> lock(svc_->activity_mu_);
    if (--svc_->activities_[id_] <= 0) svc_->activities_.erase(id_);
  }
  svc_->touch(id_);
}

Result<WorkspaceService::Activity> WorkspaceService::begin_activity(const std::string& workspace_id) {
  std::lock_guard<std::mutex> lock(activity_mu_);
  if (being_cleaned_.count(workspace_id)) {
    return make_error(ErrorCode::kFailedPrecondition,
                      "workspace '" + workspace_id + "' is being destroyed by idle cleanup (sandbox.workspace_timeout)");
  }
  ++activities_[workspace_id];
  return Activity(this, workspace_id);
}

std::vector<std::string> WorkspaceService::cleanup_idle(int64_t now) {
  std::vector<std::string> destroyed;
  auto rows = store_.list_workspaces(false);
  if (!rows) return destroyed;
  const int64_t timeout_ms = config_.sandbox.workspace_timeout * 1000;
  for (const auto& w : *rows) {
    if (now - w.last_used_at <= timeout_ms) continue;
    // Work still going on is not idleness: an execution, or processes a
    // command left running (a server, a watcher). Their clock restarts.
    bool busy = false;
    {
      std::lock_guard<std::mutex> lock(activity_mu_);
      busy = activities_.count(w.id) > 0;
    }
    if (!busy) {
      if (auto backend = isolation_for(w)) {
        if (auto st = backend->sandbox_status(w.sandbox_id); st && st->is_object()) {
          auto* n = st->as_object().if_contains("processes");
          busy = n && n->is_int64() && n->as_int64() > 0;
        }
      }
    }
    if (busy) {
      touch(w.id);
      continue;
    }
    std::lock_guard<std::mutex> lock(create_mu_);
    // Re-read under the lock: an operation may have used it since the listing.
    auto fresh = get_active(w.id);
    if (!fresh || now - fresh->last_used_at <= timeout_ms) continue;
    {
      std::lock_guard<std::mutex> alock(activity_mu_);
      if (activities_.count(w.id)) continue;  // an execution started meanwhile
      being_cleaned_.insert(w.id);
    }
    auto r = destroy_locked(w.id);
    {
      std::lock_guard<std::mutex> alock(activity_mu_);
      being_cleaned_.erase(w.id);
    }
    if (!r) {
      spdlog::warn("idle cleanup of workspace {}: {}", w.id, r.error().message);
      continue;
    }
    spdlog::info("workspace {} destroyed after {} s idle (sandbox.workspace_timeout)", w.id,
                 (now - fresh->last_used_at) / 1000);
    destroyed.push_back(w.id);
  }
  return destroyed;
}

json::object disk_limit_enforcement(const Config& config) {
  const int64_t mb = config.isolation.resource_limits.disk_mb;
  const bool image = mb > 0 && config.sandbox.disk_images && !workspaces::disk_images_unavailable();
  return disk_limit_enforcement(config, mb, image);
}

json::object disk_limit_enforcement(const Config& config, int64_t disk_mb, bool image) {
  if (image) {
    return json::object{{"enforced_by", "disk_image"},
                        {"detail", "the workspace's files are on an ext4 image of " + std::to_string(disk_mb) +
                                       " MB: writes past it fail with ENOSPC, at any time"}};
  }
  const std::string why = config.sandbox.disk_images ? workspaces::disk_images_unavailable().value_or("")
                                                     : std::string("sandbox.disk_images is false");
  return json::object{{"enforced_by", "watch"},
                      {"detail", "usage is measured while commands or their background processes run, and the "
                                 "sandbox is restarted when it goes over (no disk image: " + why + ")"}};
}

json::object WorkspaceService::disk_limit_enforcement() const { return isb::disk_limit_enforcement(config_); }

json::object WorkspaceService::disk_limit_enforcement(int64_t disk_mb, bool image) const {
  return isb::disk_limit_enforcement(config_, disk_mb, image);
}

Status WorkspaceService::restart_sandbox_locked(const WorkspaceRecord& w) {
  auto backend = isolation_for(w);
  if (!backend) return backend.error();
  if (auto st = backend->destroy_sandbox(w.sandbox_id); !st && st.error().code != ErrorCode::kNotFound) return st;
  const std::string base = json_fields::string_or(read_json_file(meta_dir(w.id) + "/meta.json"), "base");
  auto probe = backend->probe();
  const bool backend_mounts = mode_of(w) == "overlay" && probe && backend_mounts_overlay(*probe);
  if (backend_mounts) (void)workspaces::unmount_if_mounted(w.path);
  std::string image = json_fields::string_or(parse_or_empty(w.isolation_json), "image");
  auto r = backend->create_sandbox(sandbox_spec(w.id, w.path, parse_or_empty(w.resource_limits_json),
                                                image.empty() ? config_.isolation.container_image : image,
                                                backend_mounts ? (base.empty() ? w.source_path : base) : ""));
  if (!r) return r.error();
  const std::string sandbox_id = json_fields::string_or(*r, "sandbox_id");
  if (!sandbox_id.empty() && sandbox_id != w.sandbox_id) return store_.set_workspace_sandbox(w.id, sandbox_id);
  return ok_status();
}

void WorkspaceService::watch_disk_while_running(const WorkspaceRecord& w) {
  auto usage = disk_usage(w);
  if (!usage || usage->limit_bytes <= 0 || usage->kernel_enforced) return;
  std::lock_guard<std::mutex> lock(watch_mu_);
  if (watches_stop_ || watching_.count(w.id)) return;
  if (auto old = disk_watches_.find(w.id); old != disk_watches_.end()) {
    old->second.join();  // finished (not in watching_)
    disk_watches_.erase(old);
  }
  watching_.insert(w.id);
  disk_watches_[w.id] = std::thread([this, id = w.id] {
    // Walking costs time: pause at least 20 times the last walk (min 1 s).
    int64_t pause_ms = 1000;
    for (;;) {
      {
        std::unique_lock<std::mutex> lock(watch_mu_);
        if (watch_cv_.wait_for(lock, std::chrono::milliseconds(pause_ms), [this] { return watches_stop_; })) break;
      }
      auto cur = get_active(id);
      if (!cur) break;
      auto backend = isolation_for(*cur);
      auto st = backend ? backend->sandbox_status(cur->sandbox_id) : Result<json::value>(backend.error());
      const json::value* n = st && st->is_object() ? st->as_object().if_contains("processes") : nullptr;
      if (!n || !n->is_int64() || n->as_int64() <= 0) break;  // nothing left that could write
      const int64_t started = now_ms();
      auto u = disk_usage(*cur);
      pause_ms = std::max<int64_t>(1000, 20 * (now_ms() - started));
      if (!u || u->used_bytes <= u->limit_bytes) continue;
      std::lock_guard<std::mutex> create_lock(create_mu_);
      auto fresh = get_active(id);
      if (!fresh) break;
      spdlog::warn("workspace {} grew to {} bytes, over its disk limit of {} bytes (resource_limits.disk_mb), while "
                   "processes left by a command ran; restarting its sandbox stops them",
                   id, u->used_bytes, u->limit_bytes);
      if (auto rs = restart_sandbox_locked(*fresh); !rs) {
        spdlog::error("workspace {}: restarting its sandbox failed: {}", id, rs.error().message);
      }
      break;
    }
    std::lock_guard<std::mutex> lock(watch_mu_);
    watching_.erase(id);
  });
}

void WorkspaceService::start_cleanup() {
  {
    std::lock_guard<std::mutex> lock(watch_mu_);
    watches_stop_ = false;
  }
  if (!config_.sandbox.auto_cleanup || cleanup_thread_.joinable()) return;
  {
    std::lock_guard<std::mutex> lock(cleanup_mu_);
    cleanup_stop_ = false;
  }
  cleanup_thread_ = std::thread([this] {
    std::unique_lock<std::mutex> lock(cleanup_mu_);
    const auto interval = std::chrono::seconds(config_.sandbox.cleanup_interval);
    while (!cleanup_cv_.wait_for(lock, interval, [this] { return cleanup_stop_; })) {
      lock.unlock();
      cleanup_idle(now_ms());
      lock.lock();
    }
  });
}

void WorkspaceService::stop_cleanup() {
  {
    std::lock_guard<std::mutex> lock(cleanup_mu_);
    cleanup_stop_ = true;
  }
  cleanup_cv_.notify_all();
  if (cleanup_thread_.joinable()) cleanup_thread_.join();
  std::map<std::string, std::thread> watches;
  {
    std::lock_guard<std::mutex> lock(watch_mu_);
    watches_stop_ = true;
    watches.swap(disk_watches_);
  }
  watch_cv_.notify_all();
  for (auto& [id, t] : watches) t.join();
}

}  // namespace isb
