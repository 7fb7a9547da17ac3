// cgroup_v1.hpp: one workspace's cgroups on a cgroup v1 host (memory with
// memsw, pids, cpu quota, freezer for teardown). Each workspace gets
// <controller mount>/<parent>/ws-<hex of its id>, where parent is the
// configured cgroup_parent plus the backend instance's name, so leftovers of a
// crashed server can be found and mapped back to ids by reconcile, and two
// instances never touch each other's cgroups. Below the freezer cgroup, the
// workspace's supervisor makes one child cgroup per command (delegate_freezer).
//
// Thread-safety: a WorkspaceCgroups is used by one sandbox; its methods may be
// called concurrently (they only read and write cgroup files).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "fd.hpp"
#include "specs.hpp"

namespace isb::process {

//! What this host's cgroup v1 hierarchy offers under the configured parent.
struct CgroupSupport {
  bool memory = false;  // memory controller with memsw (swap) accounting, writable
  bool pids = false;
  bool cpu = false;  // CFS quota
  bool freezer = false;
  std::string detail;  // why something is missing
};

//! Finds the controllers and checks that a child cgroup can be created under
//! parent (a name relative to the server's own cgroup of each controller).
CgroupSupport probe_cgroups(const std::string& parent);

//! Counters read around one command.
struct CgroupCounters {
  int64_t oom_kills = 0;      // memory.oom_control oom_kill
  int64_t pids_max_hits = 0;  // pids.events max
};

class WorkspaceCgroups {
 public:
  //! Creates the cgroups and applies limits; throws sdk::Error(ISB_ERROR, ...)
  //! naming the file that could not be written.
  WorkspaceCgroups(const CgroupSupport& support, const std::string& parent, const std::string& workspace_id,
                   const ResourceLimits& limits);
  ~WorkspaceCgroups();
  WorkspaceCgroups(const WorkspaceCgroups&) = delete;
  WorkspaceCgroups& operator=(const WorkspaceCgroups&) = delete;

  //! The "tasks" file of every cgroup, open for writing: the supervisor joins
  //! them by writing "0" before exec (see JailLaunch::cgroup_join_fds).
  std::vector<Fd> open_join_files() const;
  CgroupCounters counters() const;
  //! Peak memory of the workspace since the last reset_peak(), in bytes.
  std::optional<int64_t> peak_memory_bytes() const;
  void reset_peak();
  //! Kills every process in the cgroups (freeze, kill, thaw until empty) and
  //! removes them. Returns false if something stayed after the time budget.
  bool destroy();

  //! Gives the freezer cgroup directory to uid (the supervisor's) so that it
  //! can put each command into a child cgroup, and returns an fd of it to pass
  //! to the supervisor; an empty Fd when there is no freezer cgroup.
  Fd delegate_freezer(uid_t uid);

  //! Which limits are enforced by this object ("cgroup_memory", ...).
  std::vector<std::string> enforced() const;

  //! Workspace ids that have cgroups under parent (decoded from the names).
  static std::set<std::string> list_workspaces(const std::string& parent);
  //! Names of backend instances that have cgroups under parent.
  static std::set<std::string> list_instances(const std::string& parent);
  //! Removes the (empty) cgroup directories of parent itself.
  static void remove_parent(const std::string& parent);
  //! Kills and removes the cgroups of workspace_id under parent.
  static bool remove_workspace(const std::string& parent, const std::string& workspace_id);

 private:
  std::vector<std::string> dirs_;  // every created cgroup directory
  std::string memory_, pids_, cpu_, freezer_;
};

}  // namespace isb::process
