// cgroup_v2.hpp: one workspace's cgroup on the unified (v2) hierarchy, behind
// the WorkspaceCgroups interface (workspace_cgroups.hpp).
//
//   <base>/<parent>/ws-<hex id>/            memory.max, memory.swap.max 0,
//                                           pids.max, cpu.max; no processes
//   <base>/<parent>/ws-<hex id>/supervisor  the jail's pid 1 (a leaf)
//   <base>/<parent>/ws-<hex id>/c<n>        one per command, made by the
//                                           supervisor (memory.oom.group 1,
//                                           cgroup.kill on timeout)
//
// The jail's cgroup namespace is rooted at ws-<hex id>: the supervisor joins
// it, makes the namespace, then moves into its leaf. Once it runs, the memory
// controller is enabled for the leaves (no-internal-process rule: the
// workspace cgroup itself then holds no process), so that an OOM kill takes a
// whole command and never the supervisor; pids and cpu stay on the workspace
// cgroup, where their counters are.
//
// <base> is the server's own cgroup (from /proc/self/cgroup). To give
// controllers to child cgroups, that cgroup must hold no process either: when
// it holds the server, the probe moves the server into <base>/isb-server, and
// <base> stays the base for the rest of the process's life. A server that is
// not root needs <base> delegated to its uid (systemd Delegate=yes: its
// cgroup.procs and cgroup.subtree_control are the server user's); otherwise
// the probe reports no cgroups and names the fix.
//
// Thread-safety: as WorkspaceCgroups; base_dir() is guarded by a mutex.
#pragma once

#include <sys/types.h>

#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "workspace_cgroups.hpp"

namespace isb::process {

//! Probes (and prepares: the server leaf, controllers enabled on every level
//! down to parent) the v2 hierarchy under the server's own cgroup.
CgroupSupport probe_cgroups_v2(const std::string& parent, bool is_root);

class CgroupV2 final : public WorkspaceCgroups {
 public:
  CgroupV2(const CgroupSupport& support, const std::string& parent, const std::string& workspace_id,
           const ResourceLimits& limits);
  ~CgroupV2() override;
  CgroupV2(const CgroupV2&) = delete;
  CgroupV2& operator=(const CgroupV2&) = delete;

  //! cgroup.procs of the workspace cgroup.
  std::vector<agent::Fd> open_join_files() const override;
  //! cgroup.procs of the supervisor's leaf.
  agent::Fd open_leaf_join_file() const override;
  void supervisor_started() override;
  CgroupCounters counters() const override;
  std::optional<int64_t> peak_memory_bytes() const override;
  void reset_peak() override;
  //! cgroup.kill (or freeze and kill where the kernel lacks it) until empty,
  //! then removes the cgroups.
  bool destroy() override;
  //! The workspace cgroup directory and its cgroup.procs (moving a command
  //! from the supervisor's leaf to its own needs the common parent's).
  agent::Fd delegate_commands(uid_t uid) override;
  std::vector<std::string> enforced() const override;

  static std::set<std::string> list_workspaces(const std::string& parent);
  static std::set<std::string> list_instances(const std::string& parent);
  static void remove_parent(const std::string& parent);
  static bool remove_workspace(const std::string& parent, const std::string& workspace_id);

 private:
  std::string dir_;  // "" once destroyed
  bool memory_ = false, pids_ = false, cpu_ = false, tree_kill_ = false, peak_resettable_ = false;
  mutable std::mutex peak_mu_;
  agent::Fd peak_fd_;               // memory.peak reset through this file (peak_resettable_); guarded by peak_mu_
  int64_t peak_before_ = 0;  // the workspace's peak at reset_peak() otherwise; guarded by peak_mu_
};

}  // namespace isb::process
