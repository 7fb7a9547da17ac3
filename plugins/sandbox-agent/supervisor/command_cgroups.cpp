// command_cgroups.cpp: per-command cgroups of the supervisor (see
// command_cgroups.hpp). Only raw system calls on the workspace's cgroup
// directory fd: the jail has no /sys, and the fd is all it needs.
#include "command_cgroups.hpp"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>

namespace isb::agent {
namespace {

bool write_at(int dir, const std::string& file, const char* text) {
  int fd = ::openat(dir, file.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return false;
  size_t len = std::char_traits<char>::length(text);
  bool ok = ::write(fd, text, len) == static_cast<ssize_t>(len);
  ::close(fd);
  return ok;
}

}  // namespace

// Only v2 cgroups have cgroup.controllers.
CommandCgroups::CommandCgroups(int dir_fd)
    : dir_(dir_fd), v2_(dir_fd >= 0 && ::faccessat(dir_fd, "cgroup.controllers", F_OK, 0) == 0) {}

int CommandCgroups::create(std::string* name) {
  if (dir_ < 0) {
    errno = ENOTSUP;
    return -1;
  }
  *name = "c" + std::to_string(++next_);
  if (::mkdirat(dir_, name->c_str(), 0755) != 0 && errno != EEXIST) return -1;
  if (v2_) {
    // Where the workspace has the memory controller: an OOM kill takes every
    // process of the command (it would not survive half-killed anyway).
    if (::faccessat(dir_, (*name + "/memory.oom.group").c_str(), F_OK, 0) == 0 &&
        !write_at(dir_, *name + "/memory.oom.group", "1")) {
      return -1;
    }
    // v2 has no "tasks" file; "0" in cgroup.procs moves the writing process.
    return ::openat(dir_, (*name + "/cgroup.procs").c_str(), O_WRONLY | O_CLOEXEC);
  }
  // "tasks", not "cgroup.procs": moving only the calling thread (the child
  // is single-threaded before exec) lets the kernel skip the global
  // threadgroup lock, whose RCU grace period cost milliseconds per command.
  return ::openat(dir_, (*name + "/tasks").c_str(), O_WRONLY | O_CLOEXEC);
}

bool CommandCgroups::join(int procs_fd) {
  // "0" is the writing thread (v1) or process (v2); allowed because the fd
  // was opened by the same uid the child runs as.
  return ::write(procs_fd, "0", 1) == 1;
}

std::vector<pid_t> CommandCgroups::members(const std::string& name) const {
  std::vector<pid_t> out;
  int fd = ::openat(dir_, (name + "/cgroup.procs").c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return out;
  std::string text;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof buf)) > 0) text.append(buf, static_cast<size_t>(n));
  ::close(fd);
  pid_t p = 0;
  bool digits = false;
  for (char c : text) {
    if (c >= '0' && c <= '9') {
      p = p * 10 + (c - '0');
      digits = true;
    } else {
      if (digits) out.push_back(p);
      p = 0;
      digits = false;
    }
  }
  if (digits) out.push_back(p);
  return out;
}

bool CommandCgroups::write_state(const std::string& name, const char* state) const {
  return write_at(dir_, name + "/freezer.state", state);
}

void CommandCgroups::signal(const std::string& name, int sig) {
  if (dir_ < 0 || name.empty()) return;
  for (pid_t p : members(name)) ::kill(p, sig);
}

void CommandCgroups::kill(const std::string& name) {
  if (dir_ < 0 || name.empty()) return;
  struct timespec start {};
  ::clock_gettime(CLOCK_MONOTONIC, &start);
  for (;;) {
    std::vector<pid_t> pids;
    if (v2_) {
      // The kernel kills every member, also what forks meanwhile.
      write_at(dir_, name + "/cgroup.kill", "1");
      pids = members(name);
    } else {
      // Frozen, nothing in the cgroup can fork between reading the list and the
      // kill; SIGKILL is delivered on thaw.
      write_state(name, "FROZEN");
      pids = members(name);
      for (pid_t p : pids) ::kill(p, SIGKILL);
      write_state(name, "THAWED");
    }
    if (pids.empty()) return;
    struct timespec now {};
    ::clock_gettime(CLOCK_MONOTONIC, &now);
    if (now.tv_sec - start.tv_sec >= 1) return;  // destroy still kills the whole workspace
    struct timespec pause {
      0, 1000000
    };
    ::nanosleep(&pause, nullptr);
  }
}

void CommandCgroups::finished(const std::string& name) {
  if (dir_ < 0 || name.empty()) return;
  if (::unlinkat(dir_, name.c_str(), AT_REMOVEDIR) != 0 && errno != ENOENT) lingering_.push_back(name);
}

void CommandCgroups::retry() {
  if (lingering_.empty()) return;
  lingering_.erase(std::remove_if(lingering_.begin(), lingering_.end(),
                                  [&](const std::string& n) {
                                    return ::unlinkat(dir_, n.c_str(), AT_REMOVEDIR) == 0 || errno == ENOENT;
                                  }),
                   lingering_.end());
}

}  // namespace isb::agent
