// sandbox_processes.hpp: the host processes of one process-backend sandbox,
// counted the same way whether the test runs as root or as an ordinary user.
//
//   JailSupervisors before = jail_supervisors();
//   json::object created = ... sandbox_create ...;
//   SandboxProcesses p = sandbox_processes(created, before);
//   EXPECT_EQ(p.count(), 1);  // only its supervisor
//
// A root server gives each sandbox host uids of its own, so the sandbox's
// processes are every host process of those uids (wherever they are). A
// rootless server's sandboxes all run as the server's uid, the test's own,
// so there a sandbox's processes are those in its pid namespace, found from
// its supervisor: the one child of this process in a pid namespace that was
// not there before the sandbox was created.
#pragma once

#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>

namespace sandbox_test {

//! Host pid -> pid namespace inode of every child of this process that is
//! pid 1 of another pid namespace (the jails' supervisors).
using JailSupervisors = std::map<pid_t, ino_t>;

//! The pid namespace inode of pid; 0 when it is gone or not ours to see.
inline ino_t pid_namespace_of(pid_t pid) {
  struct stat st {};
  return ::stat(("/proc/" + std::to_string(pid) + "/ns/pid").c_str(), &st) == 0 ? st.st_ino : 0;
}

//! Fields of /proc/<pid>/status: "PPid", "Uid" (real), "State".
struct ProcStatus {
  pid_t ppid = 0;
  uid_t uid = 0;
  bool zombie = false;
  bool ok = false;
};

inline ProcStatus proc_status(const std::filesystem::path& dir) {
  ProcStatus s;
  std::ifstream in(dir / "status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("State:", 0) == 0) s.zombie = line.find('Z') != std::string::npos;
    if (line.rfind("PPid:", 0) == 0) s.ppid = static_cast<pid_t>(std::stol(line.substr(5)));
    if (line.rfind("Uid:", 0) == 0) {
      s.uid = static_cast<uid_t>(std::stoul(line.substr(4)));
      s.ok = true;
    }
  }
  return s;
}

inline JailSupervisors jail_supervisors(pid_t parent = ::getpid()) {
  JailSupervisors out;
  const ino_t ours = pid_namespace_of(::getpid());
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator("/proc", ec)) {
    std::string name = e.path().filename();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    ProcStatus s = proc_status(e.path());
    if (!s.ok || s.zombie || s.ppid != parent) continue;
    pid_t pid = static_cast<pid_t>(std::stol(name));
    ino_t ns = pid_namespace_of(pid);
    if (ns != 0 && ns != ours) out[pid] = ns;
  }
  return out;
}

//! Live (non-zombie) processes in the pid namespace with inode ns.
inline int processes_in_pid_namespace(ino_t ns) {
  int n = 0;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator("/proc", ec)) {
    std::string name = e.path().filename();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    pid_t pid = static_cast<pid_t>(std::stol(name));
    if (pid_namespace_of(pid) != ns) continue;
    ProcStatus s = proc_status(e.path());
    n += s.ok && !s.zombie;
  }
  return n;
}

//! Live (non-zombie) host processes whose real uid is in [lo, hi).
inline int processes_of_uids(uid_t lo, uid_t hi) {
  int n = 0;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator("/proc", ec)) {
    std::string name = e.path().filename();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    ProcStatus s = proc_status(e.path());
    n += s.ok && !s.zombie && s.uid >= lo && s.uid < hi;
  }
  return n;
}

//! One sandbox's processes (see the file comment).
struct SandboxProcesses {
  bool by_uid = true;  // root server: host uids [uid - 1, uid + 1); rootless: pid namespace
  uid_t uid = 0;       // the sandbox's command uid (host_uid of the create result)
  ino_t pid_namespace = 0;
  pid_t supervisor = -1;  // its host pid

  int count() const {
    return by_uid ? processes_of_uids(uid - 1, uid + 1) : processes_in_pid_namespace(pid_namespace);
  }
  //! Waits up to two seconds for count() to become want (the supervisor
  //! reaps killed processes asynchronously); returns the last count.
  int settle(int want) const {
    int n = count();
    for (int i = 0; i < 100 && n != want; ++i) {
      ::usleep(20000);
      n = count();
    }
    return n;
  }
};

//! The processes of the sandbox whose create result is created; before: the
//! supervisors there were before it was created.
inline SandboxProcesses sandbox_processes(const boost::json::object& created, const JailSupervisors& before) {
  SandboxProcesses p;
  p.uid = static_cast<uid_t>(created.at("host_uid").as_int64());
  p.by_uid = ::geteuid() == 0;
  for (const auto& [pid, ns] : jail_supervisors()) {
    if (!before.count(pid)) {
      p.supervisor = pid;
      p.pid_namespace = ns;
    }
  }
  return p;
}

}  // namespace sandbox_test
