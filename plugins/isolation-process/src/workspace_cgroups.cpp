// workspace_cgroups.cpp: picks the cgroup version of this host (see
// workspace_cgroups.hpp).
#include "workspace_cgroups.hpp"

#include <linux/magic.h>
#include <sys/statfs.h>

#include "cgroup_v1.hpp"
#include "cgroup_v2.hpp"

namespace isb::process {

CgroupVersion host_cgroup_version() {
  struct statfs fs {};
  if (::statfs("/sys/fs/cgroup", &fs) != 0) return CgroupVersion::kNone;
  if (fs.f_type == CGROUP2_SUPER_MAGIC) return CgroupVersion::kV2;
  // Legacy and hybrid layouts: a tmpfs with one mount per v1 controller (the
  // unified tree at /sys/fs/cgroup/unified then has no controllers).
  return CgroupVersion::kV1;
}

CgroupSupport probe_cgroups(const std::string& parent, bool is_root) {
  switch (host_cgroup_version()) {
    case CgroupVersion::kV2:
      return probe_cgroups_v2(parent, is_root);
    case CgroupVersion::kV1:
      return probe_cgroups_v1(parent);
    case CgroupVersion::kNone:
      break;
  }
  CgroupSupport s;
  s.detail = "no cgroup file system at /sys/fs/cgroup";
  s.fix = "mount cgroup2 (or the v1 controllers) at /sys/fs/cgroup";
  return s;
}

std::unique_ptr<WorkspaceCgroups> make_workspace_cgroups(const CgroupSupport& support,
                                                         const std::string& parent,
                                                         const std::string& workspace_id,
                                                         const ResourceLimits& limits) {
  if (support.version == CgroupVersion::kV2)
    return std::make_unique<CgroupV2>(support, parent, workspace_id, limits);
  return std::make_unique<CgroupV1>(support, parent, workspace_id, limits);
}

std::set<std::string> list_workspace_cgroups(CgroupVersion v, const std::string& parent) {
  if (v == CgroupVersion::kV2) return CgroupV2::list_workspaces(parent);
  if (v == CgroupVersion::kV1) return CgroupV1::list_workspaces(parent);
  return {};
}

std::set<std::string> list_instance_cgroups(CgroupVersion v, const std::string& parent) {
  if (v == CgroupVersion::kV2) return CgroupV2::list_instances(parent);
  if (v == CgroupVersion::kV1) return CgroupV1::list_instances(parent);
  return {};
}

void remove_cgroup_parent(CgroupVersion v, const std::string& parent) {
  if (v == CgroupVersion::kV2) CgroupV2::remove_parent(parent);
  if (v == CgroupVersion::kV1) CgroupV1::remove_parent(parent);
}

bool remove_workspace_cgroups(CgroupVersion v, const std::string& parent, const std::string& workspace_id) {
  if (v == CgroupVersion::kV2) return CgroupV2::remove_workspace(parent, workspace_id);
  if (v == CgroupVersion::kV1) return CgroupV1::remove_workspace(parent, workspace_id);
  return true;
}

}  // namespace isb::process
