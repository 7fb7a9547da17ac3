// cgroup_v1.hpp: one workspace's cgroups on a cgroup v1 host (memory with
// memsw, pids, cpu quota, freezer for teardown). Each workspace gets
// <controller mount>/<parent>/ws-<hex of its id>, so leftovers of a crashed
// server can be found and mapped back to ids by reconcile.
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

  //! Moves pid (and its future children) into every cgroup.
  void attach(pid_t pid);
  CgroupCounters counters() const;
  //! Peak memory of the workspace since the last reset_peak(), in bytes.
  std::optional<int64_t> peak_memory_bytes() const;
  void reset_peak();
  //! Kills every process in the cgroups (freeze, kill, thaw until empty) and
  //! removes them. Returns false if something stayed after the time budget.
  bool destroy();

  //! Which limits are enforced by this object ("cgroup_memory", ...).
  std::vector<std::string> enforced() const;

  //! Workspace ids that have cgroups under parent (decoded from the names).
  static std::set<std::string> list_workspaces(const std::string& parent);
  //! Kills and removes the cgroups of workspace_id under parent.
  static bool remove_workspace(const std::string& parent, const std::string& workspace_id);

 private:
  std::vector<std::string> dirs_;  // every created cgroup directory
  std::string memory_, pids_, cpu_, freezer_;
};

}  // namespace isb::process
