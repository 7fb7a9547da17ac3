// workspace_service.hpp: workspaces: a copy (or an overlayfs view) of a host
// project directory, bound to an isolation sandbox, recorded in the store.
//
// Creation is all-or-nothing: the copy is made under a temporary name, the
// sandbox is created, the row is written, and only then is the directory
// renamed into place; any failure undoes the earlier steps.
//
// Threading: thread-safe. Creation and destruction of one id are serialized.
#pragma once

#include <isb/core/client_roots.hpp>
#include <isb/core/config.hpp>
#include <isb/core/isolation_backends.hpp>
#include <isb/core/plugin_host.hpp>
#include <isb/core/result.hpp>
#include <isb/core/store.hpp>
#include <isb/core/workspace_changes.hpp>

#include <boost/json/object.hpp>

#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>
#include <set>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace isb {

//! ^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$, and not "." or "..".
Status validate_workspace_id(const std::string& id);

//! Where workspace sources may come from.
class SourcePathPolicy {
 public:
  //! allowed_roots empty: the user's home, the current directory and the
  //! system temp dir. forbidden: the state and workspaces dirs (plus the
  //! system directories that are always refused).
  SourcePathPolicy(std::vector<std::string> allowed_roots, std::vector<std::string> forbidden);
  //! The canonical path, or an error that says why the path is refused.
  Result<std::string> check(const std::string& source_path) const;
  const std::vector<std::string>& allowed_roots() const { return allowed_; }
  //! The policy for a session whose MCP client offered roots: allowed are
  //! the client's directories, each cut down to sandbox.allowed_source_roots
  //! when those were configured (the defaults do not widen or narrow them).
  //! The forbidden and system directories stay refused.
  SourcePathPolicy restricted_to(const ClientRoots& roots) const;
  //! The system directory (/etc, /proc, /sys, /dev, /boot, /root/.ssh, ...)
  //! an absolute path lies in, if any: never a source, never written to.
  static std::optional<std::string> system_directory(const std::string& path);

 private:
  SourcePathPolicy() = default;
  Error refuse_outside_client_roots(const std::string& source_path, const std::string& canonical,
                                    const std::string& allowed) const;

  std::vector<std::string> allowed_;
  std::vector<std::string> forbidden_;
  bool configured_ = false;  // allowed_ came from sandbox.allowed_source_roots, not the defaults
  //! Set for a client-roots policy: what the client offered, and why its
  //! list is unknown, for refusals that tell the user what to change.
  std::optional<ClientRoots> client_;
  std::vector<std::string> configured_roots_;  // for a client-roots policy: sandbox.allowed_source_roots
};

//! Counts of one tree copy.
struct CopyReport {
  int64_t files = 0;
  int64_t directories = 0;
  int64_t symlinks = 0;
  int64_t bytes = 0;
  std::vector<std::string> skipped_credentials;  // relative paths never copied
  std::vector<std::string> skipped_special;      // fifos, sockets, devices
  std::vector<std::string> skipped_ignored;      // named by .sandboxignore or sandbox.copy_excludes
};

//! Copies source into dest (which must not exist): modes, timestamps,
//! holes and symlinks (as links, never followed) preserved; entries named by
//! secret_paths (sandbox.secret_paths: .ssh, .aws, .env, ...) never copied;
//! entries named by <source>/.sandboxignore or by extra_excludes (the
//! config's sandbox.copy_excludes, same syntax) skipped. File contents are
//! copied by several threads. into_existing: dest is an empty directory
//! already (a mounted disk image) rather than a path to create.
Result<CopyReport> copy_tree(const std::string& source, const std::string& dest,
                             const std::vector<std::string>& extra_excludes = {},
                             const std::vector<std::string>& secret_paths = SandboxConfig{}.secret_paths,
                             bool into_existing = false);

//! How resource_limits.disk_mb is held for new workspaces under config on
//! this host: {"enforced_by": "disk_image" | "watch", "detail"}.
boost::json::object disk_limit_enforcement(const Config& config);
//! The same for a workspace of disk_mb that got a disk image (image) or not.
boost::json::object disk_limit_enforcement(const Config& config, int64_t disk_mb, bool image);

class WorkspaceService {
 public:
  WorkspaceService(const Config& config, Store& store, const IsolationBackends& backends);

  //! create_workspace(isolation: {...}): a per-workspace choice of backend,
  //! image and limits; limits may only be lowered below the configured ones.
  struct IsolationOverride {
    std::string backend{};                   // empty: the default backend
    std::string image{};                     // empty: isolation.container_image
    boost::json::object resource_limits{};  // subset of the five limits
  };
  struct CreateRequest {
    std::string source_path{};
    std::string workspace_id{};  // empty: generated
    IsolationOverride isolation{};
    std::string mode{};  // "copy" | "overlay"; empty: sandbox.workspace_mode
    //! overlay only: copy the source into the state dir first and use the
    //! copy as the lower layer, so later source changes cannot leak in.
    bool snapshot = false;
    //! The roots the session's client offered: the source must lie beneath
    //! one of them (see SourcePathPolicy::restricted_to). nullopt: none offered.
    std::optional<ClientRoots> client_roots{};
  };
  Result<boost::json::object> create(const CreateRequest& req);
  Result<boost::json::object> destroy(const std::string& workspace_id);
  Result<boost::json::object> list() const;
  //! The active workspace, or kNotFound naming the id.
  Result<WorkspaceRecord> get_active(const std::string& workspace_id) const;
  //! Any workspace ever created (for history), or kNotFound.
  Result<WorkspaceRecord> get_any(const std::string& workspace_id) const;
  void touch(const std::string& workspace_id);

  //! The default backend (for callers that have no workspace record).
  const IsolationPlugin& isolation() const { return backends_.default_backend(); }
  //! The backend a workspace was created on.
  Result<IsolationPlugin> isolation_for(const WorkspaceRecord& w) const;
  //! Effective limits: the configured ones, lowered by the override; an
  //! override above a configured maximum or an unknown key is an error.
  Result<ResourceLimits> effective_limits(const boost::json::object& override_limits) const;
  const SourcePathPolicy& source_policy() const { return policy_; }
  //! Destroys the sandboxes of every active workspace (server shutdown keeps
  //! the files and rows; sandboxes are recreated on the next start).
  void release_sandboxes();
  //! Recreates sandboxes for active workspaces after a restart: re-mounts
  //! overlay workspaces, unmounts and removes what no workspace owns (mounts,
  //! half-created directories), then starts the idle cleanup thread.
  void restore_sandboxes();

  //! The active workspace with its idle clock restarted: every operation on a
  //! workspace goes through here.
  Result<WorkspaceRecord> use(const std::string& workspace_id);
  //! Where the workspace's change set comes from (manifest or overlay upper).
  Result<ChangeSources> change_sources(const WorkspaceRecord& w) const;
  //! apply_changes: writes the workspace's changes into target_path (empty:
  //! the workspace's source; otherwise a directory inside one listed in
  //! sandbox.apply_targets) under the apply policy (workspaces/apply_policy.hpp).
  Result<boost::json::object> apply_changes(const WorkspaceRecord& w, const std::string& target_path,
                                            const std::vector<std::string>& include);
  //! "copy" or "overlay", as created.
  std::string mode_of(const WorkspaceRecord& w) const;
  //! Directory export_workspace writes archives into.
  std::string exports_dir() const;
  //! Bytes the workspace may still grow by under its disk_mb limit; -1 when
  //! the limit is 0 (unlimited).
  Result<int64_t> disk_quota_remaining(const WorkspaceRecord& w) const;
  struct DiskUsage {
    int64_t used_bytes = 0;        // measured only when there is a limit
    int64_t limit_bytes = 0;       // 0: unlimited
    bool kernel_enforced = false;  // a disk image holds the limit (used: limit minus its free space)
    //! Past the limit (a disk image: full, as it cannot go past it).
    bool over() const {
      return limit_bytes > 0 && (kernel_enforced ? used_bytes >= limit_bytes : used_bytes > limit_bytes);
    }
  };
  //! What the workspace occupies (an overlay: its upper layer only) against
  //! its disk_mb limit.
  Result<DiskUsage> disk_usage(const WorkspaceRecord& w) const;
  //! kResourceExhausted, naming the usage and the limit, when the workspace
  //! is over its disk_mb limit: executions and writes are refused until
  //! files are deleted.
  Status check_disk_quota(const WorkspaceRecord& w) const;
  //! Work in a workspace (an execution): while one lives, idle cleanup
  //! leaves the workspace alone and keeps its idle clock at "now"; when it
  //! ends the clock restarts. Move-only; ends on destruction.
  class Activity {
   public:
    Activity(Activity&& o) noexcept : svc_(o.svc_), id_(std::move(o.id_)) { o.svc_ = nullptr; }
    Activity& operator=(Activity&&) = delete;
    Activity(const Activity&) = delete;
    ~Activity();

   private:
    friend class WorkspaceService;
    Activity(WorkspaceService* svc, std::string id) : svc_(svc), id_(std::move(id)) {}
    WorkspaceService* svc_;
    std::string id_;
  };
  //! Starts an Activity; kFailedPrecondition when idle cleanup is destroying
  //! the workspace at this moment.
  Result<Activity> begin_activity(const std::string& workspace_id);
  //! Destroys active workspaces idle for longer than sandbox.workspace_timeout
  //! at time now (ms), except those with an Activity or with processes still
  //! running in their sandbox (whose idle clock is restarted instead).
  //! Returns the ids destroyed.
  std::vector<std::string> cleanup_idle(int64_t now);
  //! How disk_mb is held for new workspaces here: {"enforced_by":
  //! "disk_image" | "watch", "detail"} (get_sandbox_status).
  boost::json::object disk_limit_enforcement() const;
  //! After a command, where no disk image holds disk_mb: keeps measuring the
  //! workspace while processes it left run, and restarts its sandbox (which
  //! stops them) once it is over the limit. One watch per workspace.
  void watch_disk_while_running(const WorkspaceRecord& w);
  //! Runs cleanup_idle every sandbox.cleanup_interval on a background thread
  //! when sandbox.auto_cleanup is set. stop_cleanup() wakes and joins it.
  void start_cleanup();
  void stop_cleanup();
  ~WorkspaceService();

 private:
  //! One create() call, as a pipeline of steps with one undo stack
  //! (workspaces/workspace_creation.cpp).
  class Creation;

  boost::json::object describe(const WorkspaceRecord& w) const;
  std::string meta_dir(const std::string& id) const;
  //! The workspace's disk image (meta dir/disk.img; there only when disk_mb
  //! is a kernel limit, see workspaces/disk_image.hpp).
  std::string disk_image_path(const std::string& id) const;
  //! Where an overlay's upper and work layers are: on the disk image's mount
  //! (meta dir/disk) when there is one, else in the meta dir.
  std::string layers_dir(const std::string& id) const;
  //! Unmounts the overlay layers' disk image and deletes it.
  void drop_disk_image(const std::string& id) const;
  //! Prepares an overlay workspace's upper and work dirs (the upper root
  //! takes the source root's owner and mode; credentials and excludes are
  //! whited out); the result carries the hidden paths.
  Result<std::vector<std::string>> prepare_overlay_layers(const std::string& id, const std::string& source,
                                                          const std::string& merged);
  //! prepare_overlay_layers, then the core mounts the overlay itself (for
  //! backends that do not, see backend_mounts_overlay).
  Result<std::vector<std::string>> mount_overlay_workspace(const std::string& id, const std::string& source,
                                                           const std::string& merged);
  //! A sandbox_create spec; with overlay_lower set, the overlay layers too
  //! (for a backend that mounts them).
  boost::json::object sandbox_spec(const std::string& id, const std::string& path, const boost::json::value& limits,
                                   const std::string& image, const std::string& overlay_lower) const;
  Result<boost::json::object> destroy_locked(const std::string& workspace_id);
  boost::json::object disk_limit_enforcement(int64_t disk_mb, bool image) const;
  //! Destroys and recreates the workspace's sandbox (every process in it
  //! ends; the files stay). Caller holds create_mu_.
  Status restart_sandbox_locked(const WorkspaceRecord& w);

  const Config& config_;
  Store& store_;
  const IsolationBackends& backends_;
  SourcePathPolicy policy_;
  std::mutex create_mu_;

  std::mutex activity_mu_;
  std::map<std::string, int> activities_;     // workspace id -> live Activity count
  std::set<std::string> being_cleaned_;        // idle cleanup destroying these now

  std::mutex watch_mu_;
  std::map<std::string, std::thread> disk_watches_;  // by workspace id; joined by stop_cleanup
  std::set<std::string> watching_;                   // ids whose watch still runs
  bool watches_stop_ = false;
  std::condition_variable watch_cv_;

  std::mutex cleanup_mu_;
  std::condition_variable cleanup_cv_;
  bool cleanup_stop_ = false;
  std::thread cleanup_thread_;
};

}  // namespace isb
