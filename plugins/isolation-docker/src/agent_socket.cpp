// agent_socket.cpp: see agent_socket.hpp.
#include "agent_socket.hpp"

#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <linux/openat2.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <isb/sdk/plugin.hpp>
#include <sstream>

#include "agent_exec.hpp"

namespace isb::docker {
namespace {

using agent::Fd;

std::string errno_text(int e) { return strerror(e); }

int openat2_fd(int dir, const char* path, uint64_t flags, uint64_t resolve) {
  struct open_how how {};
  how.flags = flags;
  how.resolve = resolve;
  return static_cast<int>(::syscall(SYS_openat2, dir, path, &how, sizeof how));
}

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

//! The mount id of an open fd ("mnt_id:" of /proc/self/fdinfo), or -1.
long mount_id_of(int fd) {
  std::istringstream in(read_text("/proc/self/fdinfo/" + std::to_string(fd)));
  std::string key;
  long value = -1;
  while (in >> key) {
    if (key == "mnt_id:" && in >> value) return value;
  }
  return -1;
}

//! Whether the mount with id mnt_id is, in the namespace of pid, a tmpfs
//! mounted at mount_point ("" when so, else what it is).
std::string check_mount(pid_t pid, long mnt_id, const std::string& mount_point) {
  std::istringstream in(read_text("/proc/" + std::to_string(pid) + "/mountinfo"));
  std::string line;
  while (std::getline(in, line)) {
    // "<id> <parent> <major:minor> <root> <mount point> <options> [optional...] - <fstype> <source> ..."
    std::istringstream f(line);
    long id = -1;
    std::string parent, dev, root, point;
    if (!(f >> id >> parent >> dev >> root >> point) || id != mnt_id) continue;
    auto dash = line.find(" - ");
    std::string fstype;
    if (dash != std::string::npos) std::istringstream(line.substr(dash + 3)) >> fstype;
    if (point != mount_point || fstype != "tmpfs") {
      return "it is a " + fstype + " mount at " + point + ", not the container's tmpfs at " + mount_point;
    }
    return "";
  }
  return "its mount is not in the container's mount table";
}

}  // namespace

Fd open_container_init(pid_t init_pid, const std::string& container_id) {
  if (init_pid <= 1) {
    throw sdk::Error(ISB_UNAVAILABLE, "container " + container_id.substr(0, 12) + " has no running PID 1");
  }
  Fd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, init_pid, 0)));
  if (pidfd.get() < 0) {
    throw sdk::Error(ISB_UNAVAILABLE, "cannot open PID " + std::to_string(init_pid) +
                                          " (PID 1 of container " + container_id.substr(0, 12) +
                                          "): " + errno_text(errno));
  }
  // The pidfd pins the process: checked after it was taken, the cgroup names
  // the process the pidfd refers to (a recycled PID would fail here).
  std::string cgroup = read_text("/proc/" + std::to_string(init_pid) + "/cgroup");
  if (cgroup.find(container_id) == std::string::npos || !container_init_alive(pidfd.get())) {
    throw sdk::Error(ISB_UNAVAILABLE, "PID " + std::to_string(init_pid) + " is not PID 1 of container " +
                                          container_id.substr(0, 12) + " (any more)");
  }
  return Fd(agent::raise_fd(pidfd.release(), 3));
}

bool container_init_alive(int pidfd) {
  return pidfd >= 0 && ::syscall(SYS_pidfd_send_signal, pidfd, 0, nullptr, 0) == 0;
}

AgentConnectAttempt connect_agent_socket(pid_t init_pid, int init_pidfd) {
  AgentConnectAttempt a;
  const std::string where = std::string(kAgentRunDir) + "/agent.sock";
  auto refuse = [&](const std::string& why) {
    a.error = "refusing " + where + " of the container: " + why;
    return std::move(a);
  };
  Fd root(::open(("/proc/" + std::to_string(init_pid) + "/root").c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (root.get() < 0) {
    a.error = "cannot open the root of container PID " + std::to_string(init_pid) + ": " + errno_text(errno);
    return a;
  }
  // kAgentRunDir without its leading "/": resolved as if the container's root were "/".
  Fd dir(openat2_fd(root.get(), kAgentRunDir + 1, O_PATH | O_DIRECTORY | O_CLOEXEC,
                    RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS));
  if (dir.get() < 0) {
    int e = errno;
    return refuse(std::string(kAgentRunDir) +
                  (e == ELOOP ? " is or passes through a symlink" : ": " + errno_text(e)));
  }
  struct statfs sfs {};
  if (::fstatfs(dir.get(), &sfs) != 0 || sfs.f_type != TMPFS_MAGIC) {
    return refuse(std::string(kAgentRunDir) + " is not a tmpfs");
  }
  const long mnt_id = mount_id_of(dir.get());
  if (std::string why = check_mount(init_pid, mnt_id, kAgentRunDir); !why.empty()) {
    return refuse(std::string(kAgentRunDir) + ": " + why);
  }
  // No symlink, no mount on top: the socket file itself, on that tmpfs.
  Fd sock_file(openat2_fd(dir.get(), "agent.sock", O_PATH | O_CLOEXEC,
                          RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV));
  if (sock_file.get() < 0) {
    int e = errno;
    if (e == ENOENT) {
      a.retry = true;
      a.error = where + " does not exist (the agent has not bound it yet)";
      return a;
    }
    return refuse(e == ELOOP ? std::string("it is a symlink") : errno_text(e));
  }
  struct stat st {};
  if (::fstat(sock_file.get(), &st) != 0 || !S_ISSOCK(st.st_mode)) return refuse("it is not a socket");
  if (mount_id_of(sock_file.get()) != mnt_id) return refuse("it is not on the container's tmpfs");

  Fd conn(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
  if (conn.get() < 0) {
    a.error = "socket(AF_UNIX, SOCK_SEQPACKET) failed: " + errno_text(errno);
    return a;
  }
  conn = Fd(agent::raise_fd(conn.release(), 3));
  // Through the inode just checked, not through any path the container shapes.
  struct sockaddr_un addr {};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof addr.sun_path, "/proc/self/fd/%d", sock_file.get());
  if (::connect(conn.get(), reinterpret_cast<struct sockaddr*>(&addr), sizeof addr) != 0) {
    int e = errno;
    if (e == ECONNREFUSED) {
      a.retry = true;
      a.error = where + " is not listening (yet)";
      return a;
    }
    return refuse(e == EPROTOTYPE ? std::string("it is not a SOCK_SEQPACKET socket") : errno_text(e));
  }
  struct ucred cred {};
  socklen_t len = sizeof cred;
  if (::getsockopt(conn.get(), SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) {
    return refuse("SO_PEERCRED failed: " + errno_text(errno));
  }
  if (cred.pid != init_pid) {
    return refuse("its listener is process " + std::to_string(cred.pid) + ", not the container's PID 1 (" +
                  std::to_string(init_pid) + ", the agent): something in the container replaced the socket");
  }
  // The listener is init_pid; still the process of the pidfd, so no recycled PID.
  if (!container_init_alive(init_pidfd)) {
    a.error = "PID 1 of the container ended while connecting to it";
    return a;
  }
  a.socket = std::move(conn);
  return a;
}

}  // namespace isb::docker
