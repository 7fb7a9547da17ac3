// local_container.cpp: see local_container.hpp.
#include "local_container.hpp"

#include <dirent.h>
#include <signal.h>
#include <sys/stat.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <vector>

namespace isb::docker {
namespace {

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) return {};
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool is_dir(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

uint64_t read_u64(const std::string& path) { return std::strtoull(read_file(path).c_str(), nullptr, 10); }

//! The value after "key " on its own line of a flat keyed file (memory.events, cpu.stat).
uint64_t keyed_value(const std::string& text, const std::string& key) {
  std::istringstream in(text);
  std::string k;
  uint64_t v = 0;
  while (in >> k >> v) {
    if (k == key) return v;
  }
  return 0;
}

bool in_container(pid_t pid, const std::string& container_id) {
  return read_file("/proc/" + std::to_string(pid) + "/cgroup").find(container_id) != std::string::npos;
}

//! Fields 5 and 6 of /proc/<pid>/stat (process group, session), after the
//! parenthesised command name, which may itself contain spaces and ')'.
bool group_and_session(pid_t pid, pid_t* pgrp, pid_t* sid) {
  std::string stat = read_file("/proc/" + std::to_string(pid) + "/stat");
  auto close = stat.rfind(')');
  if (close == std::string::npos) return false;
  std::istringstream in(stat.substr(close + 1));
  std::string state;
  long ppid = 0, pg = 0, s = 0;
  if (!(in >> state >> ppid >> pg >> s)) return false;
  *pgrp = static_cast<pid_t>(pg);
  *sid = static_cast<pid_t>(s);
  return true;
}

}  // namespace

std::optional<ContainerCgroup> find_container_cgroup(pid_t init_pid, const std::string& container_id) {
  std::string text = read_file("/proc/" + std::to_string(init_pid) + "/cgroup");
  if (text.find(container_id) == std::string::npos) return std::nullopt;
  std::istringstream in(text);
  std::string line;
  ContainerCgroup cg;
  std::string unified;
  while (std::getline(in, line)) {
    auto a = line.find(':');
    auto b = line.find(':', a + 1);
    if (a == std::string::npos || b == std::string::npos) continue;
    std::string controllers = line.substr(a + 1, b - a - 1);
    std::string path = line.substr(b + 1);
    std::stringstream cs(controllers);
    std::string c;
    while (std::getline(cs, c, ',')) {
      if (c == "memory" && is_dir("/sys/fs/cgroup/memory" + path))
        cg.memory_dir = "/sys/fs/cgroup/memory" + path;
      if (c == "cpuacct") {
        for (const char* mount : {"/sys/fs/cgroup/cpuacct", "/sys/fs/cgroup/cpu,cpuacct"}) {
          if (is_dir(mount + path)) cg.cpuacct_dir = mount + path;
        }
      }
    }
    if (controllers.empty()) unified = path;
  }
  if (!cg.memory_dir.empty() && !cg.cpuacct_dir.empty()) return cg;
  if (!unified.empty() && is_dir("/sys/fs/cgroup" + unified) &&
      !read_file("/sys/fs/cgroup/cgroup.controllers").empty()) {
    cg.v2 = true;
    cg.memory_dir = cg.cpuacct_dir = "/sys/fs/cgroup" + unified;
    return cg;
  }
  return std::nullopt;
}

CgroupSample sample_cgroup(const ContainerCgroup& cg) {
  CgroupSample s;
  if (cg.v2) {
    s.cpu_ns = keyed_value(read_file(cg.cpuacct_dir + "/cpu.stat"), "usage_usec") * 1000;
    s.peak_bytes = read_u64(cg.memory_dir + "/memory.peak");
    s.oom_kills = keyed_value(read_file(cg.memory_dir + "/memory.events"), "oom_kill");
  } else {
    s.cpu_ns = read_u64(cg.cpuacct_dir + "/cpuacct.usage");
    s.peak_bytes = read_u64(cg.memory_dir + "/memory.max_usage_in_bytes");
    s.oom_kills = keyed_value(read_file(cg.memory_dir + "/memory.oom_control"), "oom_kill");
  }
  return s;
}

bool reset_cgroup_peak(const ContainerCgroup& cg) {
  std::ofstream out(cg.memory_dir + (cg.v2 ? "/memory.peak" : "/memory.max_usage_in_bytes"));
  if (!out) return false;
  out << "0\n";
  out.flush();
  return static_cast<bool>(out);
}

int kill_exec_processes(pid_t leader, const std::string& container_id) {
  if (leader <= 1) return -1;
  // The leader may have exited while its children hold the group and session;
  // the kernel does not reuse a PID while it still names a group or session.
  std::vector<pid_t> targets;
  DIR* d = ::opendir("/proc");
  if (!d) return -1;
  while (dirent* e = ::readdir(d)) {
    char* end = nullptr;
    long pid = std::strtol(e->d_name, &end, 10);
    if (pid <= 0 || *end != '\0') continue;
    pid_t pg = 0, sid = 0;
    if (!group_and_session(static_cast<pid_t>(pid), &pg, &sid)) continue;
    if ((pg == leader || sid == leader) && in_container(static_cast<pid_t>(pid), container_id)) {
      targets.push_back(static_cast<pid_t>(pid));
    }
  }
  ::closedir(d);
  if (targets.empty()) return 0;
  for (pid_t p : targets) ::kill(p, SIGKILL);
  return static_cast<int>(targets.size());
}

namespace {

//! The innermost (last) value of a "Key:\t1\t2" line of /proc/<pid>/status, or -1.
long innermost(const std::string& status, const std::string& key) {
  auto at = status.find("\n" + key + ":");
  if (at == std::string::npos) return -1;
  auto end = status.find('\n', at + 1);
  std::istringstream in(status.substr(at + key.size() + 2, end - at - key.size() - 2));
  long v = -1, last = -1;
  while (in >> v) last = v;
  return last;
}

}  // namespace

int kill_agent_command_processes(pid_t ns_leader, const std::string& container_id) {
  if (ns_leader <= 1) return -1;
  std::vector<pid_t> targets;
  DIR* d = ::opendir("/proc");
  if (!d) return -1;
  while (dirent* e = ::readdir(d)) {
    char* end = nullptr;
    long pid = std::strtol(e->d_name, &end, 10);
    if (pid <= 0 || *end != '\0') continue;
    std::string status = read_file("/proc/" + std::to_string(pid) + "/status");
    long pg = innermost(status, "NSpgid"), sid = innermost(status, "NSsid");
    if ((pg == ns_leader || sid == ns_leader) && in_container(static_cast<pid_t>(pid), container_id)) {
      targets.push_back(static_cast<pid_t>(pid));
    }
  }
  ::closedir(d);
  for (pid_t p : targets) ::kill(p, SIGKILL);
  return static_cast<int>(targets.size());
}

}  // namespace isb::docker
