// cgroup_v2.cpp: the unified hierarchy for one workspace (see cgroup_v2.hpp).
#include "cgroup_v2.hpp"

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
constexpr const char* kServerLeaf = "isb-server";
constexpr const char* kSupervisorLeaf = "supervisor";
const char* const kControllers[] = {"memory", "pids", "cpu"};

const std::string kDelegateFix =
    "start the server in a cgroup delegated to its user: `systemd-run --user --scope -p Delegate=yes "
    "<server command>`, or a systemd user service with Delegate=yes";

std::mutex base_mu;
std::string base_fixed;  // guarded by base_mu: set once the probe prepared the base

//! The server's own cgroup on the unified hierarchy ("0::<path>"), "/" for the root.
std::string own_cgroup() {
  std::ifstream in("/proc/self/cgroup");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("0::", 0) == 0) return line.substr(3);
  }
  return "/";
}

//! Where this server's cgroups go: the cgroup it was in at the first probe.
//! A process already in a leaf named kServerLeaf was moved there by an
//! earlier probe (of this plugin, loaded again since): its parent is the base.
std::string base_dir() {
  std::lock_guard<std::mutex> lock(base_mu);
  if (!base_fixed.empty()) return base_fixed;
  std::string own = own_cgroup();
  const std::string leaf = std::string("/") + kServerLeaf;
  if (own.size() > leaf.size() && own.compare(own.size() - leaf.size(), leaf.size(), leaf) == 0) {
    own.resize(own.size() - leaf.size());
  }
  return std::string(kRoot) + (own == "/" ? "" : own);
}

std::set<std::string> words(const std::string& text) {
  std::istringstream in(text);
  std::set<std::string> out;
  std::string w;
  while (in >> w) out.insert(w);
  return out;
}

std::string join_pids(const std::vector<pid_t>& pids) {
  std::string out;
  for (size_t i = 0; i < pids.size() && i < 8; ++i) out += (i ? " " : "") + std::to_string(pids[i]);
  if (pids.size() > 8) out += " ...";
  return out;
}

bool writable(const std::string& path) { return ::access(path.c_str(), W_OK) == 0; }

//! Kills everything in dir and below: cgroup.kill where the kernel has it
//! (5.14+; it also reaches what forks meanwhile), else freeze, SIGKILL each
//! member, thaw. Bounded to about two seconds.
bool kill_tree(const std::string& dir) {
  const bool has_kill = ::access((dir + "/cgroup.kill").c_str(), F_OK) == 0;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  for (;;) {
    bool any = false;
    if (has_kill) {
      write_text(dir + "/cgroup.kill", "1");
    } else {
      write_text(dir + "/cgroup.freeze", "1");
    }
    for (const auto& d : subtree(dir)) {
      for (pid_t p : procs(d)) {
        any = true;
        if (!has_kill) ::kill(p, SIGKILL);
      }
    }
    if (!has_kill) write_text(dir + "/cgroup.freeze", "0");
    if (!any) return true;
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
}

bool remove_tree(const std::string& dir) {
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0) return true;
  bool ok = kill_tree(dir);
  return cgroup_files::remove_dirs(subtree(dir)) && ok;
}

std::vector<std::string> list_dir(const std::string& dir) {
  std::vector<std::string> out;
  if (DIR* d = ::opendir(dir.c_str())) {
    while (struct dirent* e = ::readdir(d)) {
      if (e->d_type == DT_DIR && e->d_name[0] != '.') out.push_back(e->d_name);
    }
    ::closedir(d);
  }
  return out;
}

}  // namespace

CgroupSupport probe_cgroups_v2(const std::string& parent, bool is_root) {
  CgroupSupport s;
  s.version = CgroupVersion::kV2;
  const std::string base = base_dir();
  const std::string shown = base == kRoot ? "/" : base.substr(std::strlen(kRoot));
  const std::string uid = std::to_string(::geteuid());
  if (!writable(base) || !writable(base + "/cgroup.procs") || !writable(base + "/cgroup.subtree_control")) {
    if (is_root) {
      s.detail = "cgroup v2: cannot write to the server's cgroup " + base + " (" + strerror(errno) + ")";
      s.fix = "mount the cgroup2 hierarchy read-write at /sys/fs/cgroup";
    } else {
      s.detail =
          "cgroup v2: the server's cgroup " + shown + " is not delegated to its user (uid " + uid +
          "): its directory, cgroup.procs and cgroup.subtree_control are not writable by the server, so "
          "it cannot make cgroups for its workspaces";
      s.fix = kDelegateFix;
    }
    return s;
  }
  // No-internal-process rule: a cgroup other than the root that gives
  // controllers to its children may hold no process itself.
  if (base != kRoot) {
    std::lock_guard<std::mutex> lock(base_mu);
    if (base_fixed.empty() && !procs(base).empty()) {
      std::string leaf = base + "/" + kServerLeaf;
      if ((::mkdir(leaf.c_str(), 0755) != 0 && errno != EEXIST) ||
          !write_text(leaf + "/cgroup.procs", std::to_string(::getpid()))) {
        s.detail = "cgroup v2: cannot move the server into the leaf cgroup " + leaf + " (" + strerror(errno) +
                   "), which it needs to give controllers to workspace cgroups";
        s.fix = kDelegateFix;
        return s;
      }
      std::vector<pid_t> others = procs(base);
      if (!others.empty()) {
        s.detail =
            "cgroup v2: the server's cgroup " + shown + " also holds other processes (" + join_pids(others) +
            "), so the kernel does not let it give controllers to child cgroups (no-internal-process rule)";
        s.fix = "start the server in a cgroup of its own: " + kDelegateFix;
        return s;
      }
    }
    base_fixed = base;
  }
  const std::set<std::string> offered = words(read_text(base + "/cgroup.controllers"));
  std::string missing;
  std::set<std::string> enabled;
  for (const char* c : kControllers) {
    if (!offered.count(c)) {
      missing += std::string("the ") + c + " controller is not " +
                 (is_root ? "available" : "delegated to the server's cgroup " + shown) +
                 " (its cgroup.controllers lists: " + read_text(base + "/cgroup.controllers") + "); ";
      continue;
    }
    if (!write_text(base + "/cgroup.subtree_control", std::string("+") + c)) {
      missing += std::string("cannot enable the ") + c + " controller in " + base +
                 "/cgroup.subtree_control (" + strerror(errno) + "); ";
      continue;
    }
    enabled.insert(c);
  }
  // Every level down to parent gives the controllers on.
  std::string dir = base;
  std::istringstream levels(parent);
  std::string level;
  while (std::getline(levels, level, '/')) {
    dir += "/" + level;
    if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) {
      s.detail = "cgroup v2: cannot create " + dir + " (" + strerror(errno) + ")";
      s.fix = is_root ? "" : kDelegateFix;
      return s;
    }
    for (const char* c : kControllers) {
      if (enabled.count(c) && !write_text(dir + "/cgroup.subtree_control", std::string("+") + c)) {
        missing += std::string("cannot enable the ") + c + " controller in " + dir +
                   "/cgroup.subtree_control (" + strerror(errno) + "); ";
        enabled.erase(c);
      }
    }
  }
  std::string test = dir + "/probe-" + std::to_string(::getpid());
  if (::mkdir(test.c_str(), 0755) != 0 && errno != EEXIST) {
    s.detail = "cgroup v2: cannot create " + test + " (" + strerror(errno) + ")";
    return s;
  }
  if (enabled.count("memory")) {
    s.memory = writable(test + "/memory.max") && writable(test + "/memory.swap.max");
    if (!s.memory) missing += "memory.swap.max is missing (swap accounting off: boot with swapaccount=1); ";
    agent::Fd peak(::open((test + "/memory.peak").c_str(), O_RDWR | O_CLOEXEC));
    s.peak_resettable = peak.get() >= 0 && ::write(peak.get(), "reset\n", 6) == 6;
  }
  if (enabled.count("pids")) s.pids = writable(test + "/pids.max");
  if (enabled.count("cpu")) s.cpu = writable(test + "/cpu.max");
  s.tree_kill = writable(test + "/cgroup.kill");
  if (!s.tree_kill)
    missing += "cgroup.kill is missing (Linux before 5.14): commands are not killed as a tree; ";
  ::rmdir(test.c_str());
  s.detail = "cgroup v2 under " + shown + (shown == "/" ? "" : "/") + parent +
             (missing.empty() ? "" : "; not enforced: " + missing.substr(0, missing.size() - 2));
  if (!missing.empty() && !is_root) {
    s.fix =
        "delegate the memory, pids and cpu controllers to the server's cgroup (systemd: Delegate=yes on its "
        "unit or scope, which gives every controller the user's manager has)";
  }
  return s;
}

CgroupV2::CgroupV2(const CgroupSupport& support, const std::string& parent, const std::string& workspace_id,
                   const ResourceLimits& limits)
    : memory_(support.memory),
      pids_(support.pids),
      cpu_(support.cpu),
      tree_kill_(support.tree_kill),
      peak_resettable_(support.peak_resettable) {
  std::string dir = base_dir() + "/" + parent + "/ws-" + hex(workspace_id);
  if (::mkdir(dir.c_str(), 0755) != 0) {
    throw sdk::Error(ISB_ERROR, "cannot create cgroup " + dir + ": " + strerror(errno) +
                                    (errno == EEXIST ? " (a leftover: reconcile removes it)" : ""));
  }
  dir_ = dir;
  auto set = [&](const std::string& file, const std::string& value) {
    if (!write_text(dir_ + "/" + file, value)) {
      int e = errno;
      remove_tree(dir_);
      dir_.clear();
      throw sdk::Error(ISB_ERROR, "cannot write '" + value + "' to " + dir + "/" + file + ": " + strerror(e));
    }
  };
  if (memory_ && limits.memory_mb) {
    set("memory.max", std::to_string(*limits.memory_mb << 20));
    // As v1's memsw = memory: the limit holds for memory and swap together.
    set("memory.swap.max", "0");
  }
  // +1: the supervisor (pid 1 of the jail) is counted too.
  if (pids_ && limits.max_processes) set("pids.max", std::to_string(*limits.max_processes + 1));
  if (cpu_ && limits.cpu_cores) {
    set("cpu.max", std::to_string(static_cast<int64_t>(*limits.cpu_cores * 100000)) + " 100000");
  }
  std::string leaf = dir_ + "/" + kSupervisorLeaf;
  if (::mkdir(leaf.c_str(), 0755) != 0) {
    int e = errno;
    remove_tree(dir_);
    dir_.clear();
    throw sdk::Error(ISB_ERROR, "cannot create cgroup " + leaf + ": " + strerror(e));
  }
}

CgroupV2::~CgroupV2() {
  if (!dir_.empty()) remove_tree(dir_);
}

std::vector<agent::Fd> CgroupV2::open_join_files() const {
  std::vector<agent::Fd> out;
  agent::Fd fd(::open((dir_ + "/cgroup.procs").c_str(), O_WRONLY | O_CLOEXEC));
  if (fd.get() < 0) throw sdk::Error(ISB_ERROR, "cannot open " + dir_ + "/cgroup.procs: " + strerror(errno));
  out.push_back(std::move(fd));
  return out;
}

agent::Fd CgroupV2::open_leaf_join_file() const {
  std::string path = dir_ + "/" + kSupervisorLeaf + "/cgroup.procs";
  agent::Fd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
  if (fd.get() < 0) throw sdk::Error(ISB_ERROR, "cannot open " + path + ": " + strerror(errno));
  return fd;
}

void CgroupV2::supervisor_started() {
  if (!memory_) return;
  if (!write_text(dir_ + "/cgroup.subtree_control", "+memory")) {
    throw sdk::Error(ISB_ERROR, "cannot enable the memory controller in " + dir_ +
                                    "/cgroup.subtree_control (each command's OOM group): " + strerror(errno));
  }
}

CgroupCounters CgroupV2::counters() const {
  CgroupCounters c;
  if (memory_) c.oom_kills = counter(dir_ + "/memory.events", "oom_kill");
  if (pids_) c.pids_max_hits = counter(dir_ + "/pids.events", "max");
  c.cpu_usec = counter(dir_ + "/cpu.stat", "usage_usec");
  return c;
}

void CgroupV2::reset_peak() {
  if (!memory_) return;
  std::lock_guard<std::mutex> lock(peak_mu_);
  if (peak_resettable_) {
    // Linux 6.12+: the reset holds for this open file only; reads through it
    // give the peak since.
    agent::Fd fd(::open((dir_ + "/memory.peak").c_str(), O_RDWR | O_CLOEXEC));
    if (fd.get() >= 0 && ::write(fd.get(), "reset\n", 6) == 6) {
      peak_fd_ = std::move(fd);
      return;
    }
    peak_fd_.reset();
  }
  std::string t = read_text(dir_ + "/memory.peak");
  peak_before_ = t.empty() ? -1 : std::stoll(t);
}

std::optional<int64_t> CgroupV2::peak_memory_bytes() const {
  if (!memory_) return std::nullopt;
  std::lock_guard<std::mutex> lock(peak_mu_);
  if (peak_fd_.get() >= 0) {
    char buf[32] = {};
    ssize_t n = ::pread(peak_fd_.get(), buf, sizeof buf - 1, 0);
    if (n > 0) return std::stoll(buf);
    return std::nullopt;
  }
  // Without a per-file reset the workspace's lifetime peak is all there is:
  // it is this command's own peak only when it rose during the command.
  std::string t = read_text(dir_ + "/memory.peak");
  if (t.empty() || peak_before_ < 0) return std::nullopt;
  int64_t now = std::stoll(t);
  if (now > peak_before_) return now;
  return std::nullopt;
}

bool CgroupV2::destroy() {
  if (dir_.empty()) return true;
  bool ok = remove_tree(dir_);
  if (ok) dir_.clear();
  return ok;
}

agent::Fd CgroupV2::delegate_commands(uid_t uid) {
  if (!tree_kill_) return agent::Fd();
  // The directory (to make c<n>) and cgroup.procs (moving a command out of
  // the supervisor's leaf into c<n> needs write access to their common
  // parent's): the limits' files stay the server's.
  for (const std::string& p : {dir_, dir_ + "/cgroup.procs"}) {
    if (::chown(p.c_str(), uid, static_cast<gid_t>(-1)) != 0) {
      throw sdk::Error(ISB_ERROR,
                       "cannot hand " + p + " to uid " + std::to_string(uid) + ": " + strerror(errno));
    }
  }
  agent::Fd fd(::open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (fd.get() < 0) throw sdk::Error(ISB_ERROR, "cannot open " + dir_ + ": " + strerror(errno));
  return fd;
}

std::vector<std::string> CgroupV2::enforced() const {
  std::vector<std::string> out;
  if (memory_) out.push_back("cgroup_memory");
  if (pids_) out.push_back("cgroup_pids");
  if (cpu_) out.push_back("cgroup_cpu");
  return out;
}

std::set<std::string> CgroupV2::list_workspaces(const std::string& parent) {
  std::set<std::string> ids;
  for (const auto& n : list_dir(base_dir() + "/" + parent)) {
    if (n.rfind("ws-", 0) != 0) continue;
    if (auto id = unhex(n.substr(3))) ids.insert(*id);
  }
  return ids;
}

std::set<std::string> CgroupV2::list_instances(const std::string& parent) {
  std::set<std::string> names;
  for (const auto& n : list_dir(base_dir() + "/" + parent)) {
    if (HostInstance::is_instance_name(n)) names.insert(n);
  }
  return names;
}

void CgroupV2::remove_parent(const std::string& parent) { ::rmdir((base_dir() + "/" + parent).c_str()); }

bool CgroupV2::remove_workspace(const std::string& parent, const std::string& workspace_id) {
  return remove_tree(base_dir() + "/" + parent + "/ws-" + hex(workspace_id));
}

}  // namespace isb::process
