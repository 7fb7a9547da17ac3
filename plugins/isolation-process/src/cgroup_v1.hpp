// cgroup_v1.hpp: one workspace's cgroups on a cgroup v1 host (memory with
// memsw, pids, cpu quota, freezer for teardown), behind the WorkspaceCgroups
// interface (workspace_cgroups.hpp). Each controller's hierarchy gets its own
// <controller mount>/<server's cgroup>/<parent>/ws-<hex of its id>. Below the
// freezer cgroup, the workspace's supervisor makes one child cgroup per
// command (delegate_commands).
//
// Thread-safety: as WorkspaceCgroups.
#pragma once

#include <sys/types.h>

#include <set>
#include <string>
#include <vector>

#include "workspace_cgroups.hpp"

namespace isb::process {

//! Finds the v1 controllers and checks that a child cgroup can be created
//! under parent (a name relative to the server's own cgroup of each controller).
CgroupSupport probe_cgroups_v1(const std::string& parent);

class CgroupV1 final : public WorkspaceCgroups {
 public:
  CgroupV1(const CgroupSupport& support, const std::string& parent, const std::string& workspace_id,
           const ResourceLimits& limits);
  ~CgroupV1() override;
  CgroupV1(const CgroupV1&) = delete;
  CgroupV1& operator=(const CgroupV1&) = delete;

  //! The "tasks" file of every cgroup, open for writing.
  std::vector<agent::Fd> open_join_files() const override;
  agent::Fd open_leaf_join_file() const override { return agent::Fd(); }
  void supervisor_started() override {}
  CgroupCounters counters() const override;
  std::optional<int64_t> peak_memory_bytes() const override;
  void reset_peak() override;
  //! Freezes, kills and thaws until empty, then removes the cgroups.
  bool destroy() override;
  //! The freezer cgroup directory (v1 freezing is hierarchical, so destroy
  //! still stops every command's cgroup at once).
  agent::Fd delegate_commands(uid_t uid) override;
  std::vector<std::string> enforced() const override;

  static std::set<std::string> list_workspaces(const std::string& parent);
  static std::set<std::string> list_instances(const std::string& parent);
  static void remove_parent(const std::string& parent);
  static bool remove_workspace(const std::string& parent, const std::string& workspace_id);

 private:
  std::vector<std::string> dirs_;  // every created cgroup directory
  std::string memory_, pids_, cpu_, freezer_;
};

}  // namespace isb::process
