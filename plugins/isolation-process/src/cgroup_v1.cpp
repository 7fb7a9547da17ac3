// cgroup_v1.cpp: cgroup v1 files for one workspace (see cgroup_v1.hpp). The parent lives inside
// the server's own cgroup of each controller, so the workspaces stay within
// whatever limits the server itself was given.
#include "cgroup_v1.hpp"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <fstream>
#include <isb/sdk/plugin.hpp>
#include <sstream>
#include <thread>

#include "cgroup_files.hpp"
#include "host_instance.hpp"

namespace isb::process {
namespace {

using namespace cgroup_files;

constexpr const char* kRoot = "/sys/fs/cgroup";

//! The server's own cgroup path for a v1 controller, from /proc/self/cgroup.
std::string own_cgroup(const std::string& controller) {
  std::ifstream in("/proc/self/cgroup");
  std::string line;
  while (std::getline(in, line)) {
    auto a = line.find(':'), b = line.find(':', a + 1);
    if (a == std::string::npos || b == std::string::npos) continue;
    std::string list = line.substr(a + 1, b - a - 1);
    std::stringstream ss(list);
    std::string item;
    while (std::getline(ss, item, ',')) {
      if (item == controller) {
        std::string p = line.substr(b + 1);
        return p == "/" ? "" : p;
      }
    }
  }
  return "";
}

std::string parent_dir(const std::string& controller, const std::string& parent) {
  return std::string(kRoot) + "/" + controller + own_cgroup(controller) + "/" + parent;
}

std::vector<std::string> with_subtrees(const std::vector<std::string>& dirs) {
  std::vector<std::string> all;
  for (const auto& d : dirs) {
    for (auto& s : subtree(d)) all.push_back(std::move(s));
  }
  return all;
}

//! Kills everything in the cgroups and the cgroups below them; the freezer
//! (when there; v1 freezing is hierarchical) stops a fork bomb from outrunning
//! the kill loop. Bounded to about two seconds.
bool kill_all(const std::vector<std::string>& dirs, const std::string& freezer) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  for (;;) {
    bool any = false;
    if (!freezer.empty()) write_text(freezer + "/freezer.state", "FROZEN");
    for (const auto& d : with_subtrees(dirs)) {
      for (pid_t p : procs(d)) {
        any = true;
        ::kill(p, SIGKILL);
      }
    }
    if (!freezer.empty()) write_text(freezer + "/freezer.state", "THAWED");
    if (!any) return true;
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
}

bool remove_dirs(const std::vector<std::string>& dirs, const std::string& freezer) {
  bool ok = kill_all(dirs, freezer);
  return cgroup_files::remove_dirs(with_subtrees(dirs)) && ok;
}

const char* const kControllers[] = {"memory", "pids", "cpu", "freezer"};

}  // namespace

CgroupSupport probe_cgroups_v1(const std::string& parent) {
  CgroupSupport s;
  s.version = CgroupVersion::kV1;
  std::string missing;
  for (const char* c : kControllers) {
    std::string base = parent_dir(c, parent);
    struct stat st {};
    if (::stat((std::string(kRoot) + "/" + c).c_str(), &st) != 0) {
      missing += std::string(c) + " controller is not mounted at /sys/fs/cgroup/" + c + "; ";
      continue;
    }
    std::string test = base + "/probe-" + std::to_string(::getpid());
    if (!mkdir_p(test)) {
      missing += "cannot create " + test + " (" + strerror(errno) + "); ";
      continue;
    }
    bool ok = true;
    if (std::string(c) == "memory") {
      ok = ::access((test + "/memory.memsw.limit_in_bytes").c_str(), W_OK) == 0;
      if (!ok) missing += "memory.memsw is missing (swap accounting off: boot with swapaccount=1); ";
      s.memory = ok;
    } else if (std::string(c) == "pids") {
      s.pids = ok = ::access((test + "/pids.max").c_str(), W_OK) == 0;
    } else if (std::string(c) == "cpu") {
      s.cpu = ok = ::access((test + "/cpu.cfs_quota_us").c_str(), W_OK) == 0;
    } else {
      s.tree_kill = ok = ::access((test + "/freezer.state").c_str(), W_OK) == 0;
    }
    ::rmdir(test.c_str());
  }
  s.detail = missing.empty() ? "cgroup v1 under <server cgroup>/" + parent : missing;
  return s;
}

CgroupV1::CgroupV1(const CgroupSupport& support, const std::string& parent, const std::string& workspace_id,
                   const ResourceLimits& limits) {
  std::string name = "/ws-" + hex(workspace_id);
  auto make = [&](const char* controller) {
    std::string d = parent_dir(controller, parent) + name;
    if (!mkdir_p(d)) {
      throw sdk::Error(ISB_ERROR, "cannot create cgroup " + d + ": " + strerror(errno));
    }
    dirs_.push_back(d);
    return d;
  };
  auto set = [&](const std::string& file, const std::string& value) {
    if (!write_text(file, value)) {
      int e = errno;
      remove_dirs(dirs_, freezer_);
      throw sdk::Error(ISB_ERROR, "cannot write '" + value + "' to " + file + ": " + strerror(e));
    }
  };
  try {
    if (support.tree_kill) freezer_ = make("freezer");
    if (support.memory) {
      memory_ = make("memory");
      if (limits.memory_mb) {
        std::string bytes = std::to_string(*limits.memory_mb << 20);
        // memsw must stay >= the memory limit at every step: memory first.
        set(memory_ + "/memory.limit_in_bytes", bytes);
        set(memory_ + "/memory.memsw.limit_in_bytes", bytes);
      }
    }
    if (support.pids) {
      pids_ = make("pids");
      // +1: the supervisor (pid 1 of the jail) lives in the cgroup too.
      if (limits.max_processes) set(pids_ + "/pids.max", std::to_string(*limits.max_processes + 1));
    }
    if (support.cpu) {
      cpu_ = make("cpu");
      if (limits.cpu_cores) {
        set(cpu_ + "/cpu.cfs_period_us", "100000");
        set(cpu_ + "/cpu.cfs_quota_us", std::to_string(static_cast<int64_t>(*limits.cpu_cores * 100000)));
      }
    }
  } catch (...) {
    remove_dirs(dirs_, freezer_);
    throw;
  }
}

CgroupV1::~CgroupV1() { remove_dirs(dirs_, freezer_); }

std::vector<agent::Fd> CgroupV1::open_join_files() const {
  std::vector<agent::Fd> out;
  for (const auto& d : dirs_) {
    agent::Fd fd(::open((d + "/tasks").c_str(), O_WRONLY | O_CLOEXEC));
    if (fd.get() < 0) throw sdk::Error(ISB_ERROR, "cannot open " + d + "/tasks: " + strerror(errno));
    out.push_back(std::move(fd));
  }
  return out;
}

CgroupCounters CgroupV1::counters() const {
  CgroupCounters c;
  if (!memory_.empty()) c.oom_kills = counter(memory_ + "/memory.oom_control", "oom_kill");
  if (!pids_.empty()) c.pids_max_hits = counter(pids_ + "/pids.events", "max");
  return c;
}

std::optional<int64_t> CgroupV1::peak_memory_bytes() const {
  if (memory_.empty()) return std::nullopt;
  std::string t = read_text(memory_ + "/memory.max_usage_in_bytes");
  if (t.empty()) return std::nullopt;
  return std::stoll(t);
}

void CgroupV1::reset_peak() {
  if (!memory_.empty()) write_text(memory_ + "/memory.max_usage_in_bytes", "0");
}

bool CgroupV1::destroy() {
  bool ok = remove_dirs(dirs_, freezer_);
  dirs_.clear();
  return ok;
}

std::vector<std::string> CgroupV1::enforced() const {
  std::vector<std::string> out;
  if (!memory_.empty()) out.push_back("cgroup_memory");
  if (!pids_.empty()) out.push_back("cgroup_pids");
  if (!cpu_.empty()) out.push_back("cgroup_cpu");
  return out;
}

std::set<std::string> CgroupV1::list_workspaces(const std::string& parent) {
  std::set<std::string> ids;
  for (const char* c : kControllers) {
    DIR* d = ::opendir(parent_dir(c, parent).c_str());
    if (!d) continue;
    while (struct dirent* e = ::readdir(d)) {
      std::string n = e->d_name;
      if (n.rfind("ws-", 0) != 0) continue;
      if (auto id = unhex(n.substr(3))) ids.insert(*id);
    }
    ::closedir(d);
  }
  return ids;
}

std::set<std::string> CgroupV1::list_instances(const std::string& parent) {
  std::set<std::string> names;
  for (const char* c : kControllers) {
    DIR* d = ::opendir(parent_dir(c, parent).c_str());
    if (!d) continue;
    while (struct dirent* e = ::readdir(d)) {
      if (e->d_type == DT_DIR && HostInstance::is_instance_name(e->d_name)) names.insert(e->d_name);
    }
    ::closedir(d);
  }
  return names;
}

void CgroupV1::remove_parent(const std::string& parent) {
  for (const char* c : kControllers) ::rmdir(parent_dir(c, parent).c_str());
}

agent::Fd CgroupV1::delegate_commands(uid_t uid) {
  if (freezer_.empty()) return agent::Fd();
  // Only the directory: the supervisor (this uid) may create and remove child
  // cgroups for its commands; the workspace cgroup's own files stay root's.
  if (::chown(freezer_.c_str(), uid, uid) != 0) {
    throw sdk::Error(ISB_ERROR,
                     "cannot hand " + freezer_ + " to uid " + std::to_string(uid) + ": " + strerror(errno));
  }
  agent::Fd fd(::open(freezer_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (fd.get() < 0) throw sdk::Error(ISB_ERROR, "cannot open " + freezer_ + ": " + strerror(errno));
  return fd;
}

bool CgroupV1::remove_workspace(const std::string& parent, const std::string& workspace_id) {
  std::vector<std::string> dirs;
  std::string freezer;
  for (const char* c : kControllers) {
    std::string d = parent_dir(c, parent) + "/ws-" + hex(workspace_id);
    struct stat st {};
    if (::stat(d.c_str(), &st) != 0) continue;
    dirs.push_back(d);
    if (std::string(c) == "freezer") freezer = d;
  }
  return remove_dirs(dirs, freezer);
}

}  // namespace isb::process
