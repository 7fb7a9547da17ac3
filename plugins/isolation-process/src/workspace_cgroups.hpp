// workspace_cgroups.hpp: one workspace's cgroups, on whichever cgroup version
// the host runs: cgroup v1 (cgroup_v1.cpp) or the unified v2 hierarchy
// (cgroup_v2.cpp). A hybrid host (v1 controllers plus an empty unified tree)
// counts as v1: its controllers are all on the v1 side.
//
//   CgroupSupport s = probe_cgroups(parent, is_root);   // once per instance
//   auto cg = make_workspace_cgroups(s, parent, id, limits);
//   Fd commands = cg->delegate_commands(uid);           // to the supervisor
//   launch.cgroup_join_fds <- cg->open_join_files();   // joined before the cgroup namespace
//   launch.cgroup_leaf_fd  <- cg->open_leaf_join_file(); // joined after it (v2)
//   spawn; cg->supervisor_started();
//   ... counters(), reset_peak(), peak_memory_bytes() around each command ...
//   cg->destroy();
//
// Each workspace gets <server's cgroup>/<parent>/ws-<hex of its id>, where
// parent is the configured cgroup_parent plus the backend instance's name, so
// leftovers of a crashed server can be found and mapped back to ids by
// reconcile, and two instances never touch each other's cgroups.
//
// Thread-safety: a WorkspaceCgroups is used by one sandbox; its methods may be
// called concurrently (they only read and write cgroup files).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "sandbox-agent/fd.hpp"
#include "specs.hpp"

namespace isb::process {

enum class CgroupVersion { kNone, kV1, kV2 };

//! What this host's cgroups offer under the configured parent.
struct CgroupSupport {
  CgroupVersion version = CgroupVersion::kNone;
  bool memory = false;  // a memory limit that swap cannot get around (v1 memsw, v2 memory.swap.max)
  bool pids = false;
  bool cpu = false;        // CFS quota (v1 cpu.cfs_quota_us, v2 cpu.max)
  bool tree_kill = false;  // per-command cgroups killable as a whole (v1 freezer, v2 cgroup.kill)
  //! v2: memory.peak can be reset per open file (Linux 6.12+), so each
  //! command's own peak is known; otherwise only a new workspace peak is.
  bool peak_resettable = false;
  std::string detail;  // where the cgroups are, and what is missing and why
  std::string fix;     // what gives the missing ones, when an operator can
};

//! The version of the hierarchy mounted at /sys/fs/cgroup: kV2 only when it is
//! cgroup2 itself (unified mode), kV1 when the v1 controllers are mounted below it.
CgroupVersion host_cgroup_version();

//! Finds the controllers and checks that a child cgroup can be created under
//! parent (relative to the server's own cgroup). On v2 this may move the
//! server itself into a leaf cgroup (see cgroup_v2.hpp).
CgroupSupport probe_cgroups(const std::string& parent, bool is_root);

//! Counters read around one command.
struct CgroupCounters {
  int64_t oom_kills = 0;            // v1 memory.oom_control, v2 memory.events oom_kill
  int64_t pids_max_hits = 0;        // pids.events max
  std::optional<int64_t> cpu_usec;  // v2 cpu.stat usage_usec of the whole workspace
};

class WorkspaceCgroups {
 public:
  virtual ~WorkspaceCgroups() = default;

  //! Files the supervisor joins by writing "0" before it makes its cgroup
  //! namespace (see JailLaunch::cgroup_join_fds): v1 the "tasks" file of each
  //! controller's cgroup, v2 the workspace cgroup's cgroup.procs.
  virtual std::vector<agent::Fd> open_join_files() const = 0;
  //! v2: cgroup.procs of the supervisor's leaf, joined after the cgroup
  //! namespace is made (so the namespace's root is the workspace cgroup);
  //! v1: an empty Fd.
  virtual agent::Fd open_leaf_join_file() const = 0;
  //! The supervisor runs (in its leaf): v2 enables the memory controller for
  //! the leaves, so each command's cgroup can be an OOM group of its own.
  //! Throws sdk::Error naming the file that could not be written.
  virtual void supervisor_started() = 0;
  virtual CgroupCounters counters() const = 0;
  //! Peak memory of the workspace since the last reset_peak(), in bytes;
  //! nullopt when this kernel cannot tell.
  virtual std::optional<int64_t> peak_memory_bytes() const = 0;
  virtual void reset_peak() = 0;
  //! Kills every process in the cgroups and removes them. Returns false if
  //! something stayed after the time budget (about two seconds).
  virtual bool destroy() = 0;
  //! Gives the cgroup directory under which the supervisor makes one cgroup
  //! per command to uid (the supervisor's), and returns an fd of it to pass
  //! to the supervisor; an empty Fd when commands get no cgroups of their own.
  virtual agent::Fd delegate_commands(uid_t uid) = 0;
  //! Which limits are enforced by this object ("cgroup_memory", ...).
  virtual std::vector<std::string> enforced() const = 0;
};

//! Creates the workspace's cgroups and applies limits; throws
//! sdk::Error(ISB_ERROR, ...) naming the file that could not be written.
std::unique_ptr<WorkspaceCgroups> make_workspace_cgroups(const CgroupSupport& support,
                                                         const std::string& parent,
                                                         const std::string& workspace_id,
                                                         const ResourceLimits& limits);

// Leftovers of crashed servers, on the host's cgroup version (reconcile).
//! Workspace ids that have cgroups under parent (decoded from the names).
std::set<std::string> list_workspace_cgroups(CgroupVersion v, const std::string& parent);
//! Names of backend instances that have cgroups under parent.
std::set<std::string> list_instance_cgroups(CgroupVersion v, const std::string& parent);
//! Removes the (empty) cgroup directories of parent itself.
void remove_cgroup_parent(CgroupVersion v, const std::string& parent);
//! Kills and removes the cgroups of workspace_id under parent.
bool remove_workspace_cgroups(CgroupVersion v, const std::string& parent, const std::string& workspace_id);

}  // namespace isb::process
