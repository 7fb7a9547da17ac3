// agent_binary.cpp: see agent_binary.hpp.
#include "agent_binary.hpp"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <random>

namespace isb::docker {
namespace {

constexpr const char* kStagingRoot = "/run/intelligent-sandbox/docker-agent";
constexpr const char* kFileName = "isb-supervisor";

std::string random_suffix() {
  std::random_device rd;
  char buf[9];
  std::snprintf(buf, sizeof buf, "%08x", rd());
  return buf;
}

//! Removes staging directories of plugin instances whose process is gone
//! (<instance>-<pid>-<random>); a crashed server leaves its tmpfs behind.
void remove_stale_staging() {
  DIR* d = ::opendir(kStagingRoot);
  if (!d) return;
  while (dirent* e = ::readdir(d)) {
    std::string name = e->d_name;
    auto last = name.rfind('-');
    auto before = last == std::string::npos || last == 0 ? std::string::npos : name.rfind('-', last - 1);
    if (before == std::string::npos) continue;
    pid_t pid = static_cast<pid_t>(std::strtol(name.c_str() + before + 1, nullptr, 10));
    if (pid <= 0 || ::kill(pid, 0) == 0 || errno != ESRCH) continue;
    std::string dir = std::string(kStagingRoot) + "/" + name;
    ::umount2(dir.c_str(), MNT_DETACH);
    ::rmdir(dir.c_str());
  }
  ::closedir(d);
}

//! Copies from into to (read-only, executable); "" on success, else why not.
std::string copy_file(const std::string& from, const std::string& to) {
  std::error_code ec;
  std::filesystem::copy_file(from, to, ec);
  if (!ec) {
    using std::filesystem::perms;
    std::filesystem::permissions(to,
                                 perms::owner_read | perms::owner_exec | perms::group_read |
                                     perms::group_exec | perms::others_read | perms::others_exec,
                                 ec);
  }
  return ec ? "copying " + from + " to " + to + ": " + ec.message() : "";
}

}  // namespace

AgentBinary::AgentBinary(std::string program, std::string instance_id)
    : program_(std::move(program)), instance_id_(std::move(instance_id)) {}

AgentBinary::~AgentBinary() {
  std::lock_guard<std::mutex> lock(mu_);
  if (dir_.empty()) return;
  ::umount2(dir_.c_str(), MNT_DETACH);
  ::rmdir(dir_.c_str());
}

std::string AgentBinary::source() {
  std::lock_guard<std::mutex> lock(mu_);
  stage_locked();
  return dir_.empty() ? program_ : dir_ + "/" + kFileName;
}

std::string AgentBinary::exposure() {
  std::lock_guard<std::mutex> lock(mu_);
  stage_locked();
  return exposure_;
}

void AgentBinary::stage_locked() {
  if (tried_) return;
  tried_ = true;
  struct stat st {};
  if (::stat(program_.c_str(), &st) != 0) {
    exposure_ = "the agent program " + program_ + " is missing: " + strerror(errno);
    return;
  }
  std::error_code ec;
  std::filesystem::create_directories(kStagingRoot, ec);
  remove_stale_staging();
  std::string dir = std::string(kStagingRoot) + "/" + instance_id_ + "-" + std::to_string(::getpid()) + "-" +
                    random_suffix();
  // Room for the program and tmpfs' own blocks; read-only once it is there.
  std::string options = "size=" + std::to_string(st.st_size + (1 << 20)) + ",mode=0755";
  std::string why;
  if (::mkdir(dir.c_str(), 0755) != 0) {
    why = "mkdir " + dir + ": " + strerror(errno);
  } else if (::mount("isb-agent", dir.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, options.c_str()) != 0) {
    why = "mounting a tmpfs at " + dir + ": " + strerror(errno);
    ::rmdir(dir.c_str());
  } else if (why = copy_file(program_, dir + "/" + kFileName);
             why.empty() && ::mount(nullptr, dir.c_str(), nullptr,
                                    MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV, nullptr) != 0) {
    why = "remounting " + dir + " read-only: " + strerror(errno);
  }
  if (!why.empty()) {
    if (::umount2(dir.c_str(), MNT_DETACH) == 0) ::rmdir(dir.c_str());
    exposure_ = "the agent is bound from " + program_ +
                ", which every container's /proc/self/mountinfo shows, because staging a copy failed (" +
                why + "; staging needs root)";
    return;
  }
  dir_ = dir;
}

}  // namespace isb::docker
