// host_instance.cpp: registration, liveness and uid claims of backend
// instances on one host (see host_instance.hpp for the scheme).
#include "host_instance.hpp"

#include <dirent.h>
#include <pwd.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <isb/sdk/plugin.hpp>

namespace isb::process {
namespace {

[[noreturn]] void unavailable(const std::string& what, int err) {
  throw sdk::Error(
      ISB_UNAVAILABLE,
      what + ": " + strerror(err) +
          (::geteuid() == 0 ? " (the process backend keeps its instance registry there; it needs a "
                              "writable /run)"
                            : " (the process backend keeps its instance registry there; give the "
                              "server's user a writable XDG_RUNTIME_DIR or home directory)"));
}

//! mkdir -p with `mode` for every component this call creates; the modes of
//! existing components are left alone except that they must be traversable.
bool make_dirs(const std::string& path, mode_t mode) {
  for (size_t i = 1; i <= path.size(); ++i) {
    if (i != path.size() && path[i] != '/') continue;
    std::string p = path.substr(0, i);
    if (::mkdir(p.c_str(), mode) != 0 && errno != EEXIST) return false;
  }
  return true;
}

//! The home directory of this process's user: $HOME, else the passwd entry.
std::string home_dir() {
  const char* home = std::getenv("HOME");
  if (home && home[0] == '/') return home;
  struct passwd pw {};
  struct passwd* found = nullptr;
  char buf[4096];
  if (::getpwuid_r(::geteuid(), &pw, buf, sizeof buf, &found) == 0 && found && found->pw_dir &&
      found->pw_dir[0] == '/')
    return found->pw_dir;
  return "";
}

std::string random_hex() {
  uint32_t r = 0;
  if (::getrandom(&r, sizeof r, 0) != static_cast<ssize_t>(sizeof r)) {
    r = static_cast<uint32_t>(::getpid()) * 2654435761u ^ static_cast<uint32_t>(::time(nullptr));
  }
  char buf[9];
  std::snprintf(buf, sizeof buf, "%08x", r);
  return buf;
}

//! Byte-range lock on [start, start + len) of the uid lock file, owned by the
//! open file description (so two instances in one process exclude each other).
bool ofd_lock(int fd, short type, int64_t start, int64_t len) {
  struct flock fl {};
  fl.l_type = type;
  fl.l_whence = SEEK_SET;
  fl.l_start = start;
  fl.l_len = len;
  return ::fcntl(fd, F_OFD_SETLK, &fl) == 0;
}

}  // namespace

std::string HostInstance::default_root() {
  if (::geteuid() == 0) return kDefaultRoot;
  // Only a runtime directory that is really ours: another user's would let
  // them see, or fake, this user's instances.
  const char* runtime = std::getenv("XDG_RUNTIME_DIR");
  struct stat st {};
  if (runtime && runtime[0] == '/' && ::stat(runtime, &st) == 0 && S_ISDIR(st.st_mode) &&
      st.st_uid == ::geteuid()) {
    return std::string(runtime) + "/intelligent-sandbox/instances";
  }
  std::string home = home_dir();
  if (home.empty()) {
    throw sdk::Error(ISB_UNAVAILABLE,
                     "the process backend has nowhere to keep its instance registry: the server is not root, "
                     "XDG_RUNTIME_DIR is not a directory of its user and it has no home directory; set "
                     "XDG_RUNTIME_DIR or HOME to a directory the server's user owns");
  }
  return home + "/.local/state/intelligent-sandbox/instances";
}

HostInstance::HostInstance(const std::string& root) : root_(root) {
  // A root server's jails mount their workspaces from binds in here as an
  // unprivileged uid; a rootless server's registry is nobody else's business.
  const bool shared = ::geteuid() == 0;
  if (!make_dirs(root, shared ? 0755 : 0700)) unavailable("cannot create " + root, errno);
  if (shared) ::chmod(root.c_str(), 0755);
  name_ = std::to_string(::getpid()) + "-" + random_hex();
  // Built under a dot-name and renamed once locked, so that nobody ever sees
  // this instance's directory with its lock not yet held (and takes it for dead).
  std::string staging = root + "/.new-" + name_;
  if (::mkdir(staging.c_str(), shared ? 0755 : 0700) != 0) unavailable("cannot create " + staging, errno);
  lock_ = agent::Fd(::open((staging + "/lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (lock_.get() < 0 || ::flock(lock_.get(), LOCK_EX | LOCK_NB) != 0) {
    int e = errno;
    ::unlink((staging + "/lock").c_str());
    ::rmdir(staging.c_str());
    unavailable("cannot lock " + staging + "/lock", e);
  }
  dir_ = root + "/" + name_;
  if (::rename(staging.c_str(), dir_.c_str()) != 0) {
    int e = errno;
    ::unlink((staging + "/lock").c_str());
    ::rmdir(staging.c_str());
    unavailable("cannot rename " + staging + " to " + dir_, e);
  }
  std::string uids = root + "/uids.lock";
  uids_ = agent::Fd(::open(uids.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (uids_.get() < 0) {
    int e = errno;
    forget(dir_);
    unavailable("cannot open " + uids, e);
  }
}

HostInstance::~HostInstance() {
  // The directory goes while the lock is still held, so no other instance
  // reconciling at this moment can mistake it for a dead one half-removed.
  forget(dir_);
}

bool HostInstance::claim_uids(int64_t uid) { return ofd_lock(uids_.get(), F_WRLCK, uid, 2); }

void HostInstance::release_uids(int64_t uid) { ofd_lock(uids_.get(), F_UNLCK, uid, 2); }

bool HostInstance::is_instance_name(const std::string& name) {
  auto dash = name.find('-');
  if (dash == 0 || dash == std::string::npos || name.size() - dash - 1 != 8) return false;
  for (size_t i = 0; i < dash; ++i) {
    if (name[i] < '0' || name[i] > '9') return false;
  }
  for (size_t i = dash + 1; i < name.size(); ++i) {
    if (!((name[i] >= '0' && name[i] <= '9') || (name[i] >= 'a' && name[i] <= 'f'))) return false;
  }
  return true;
}

bool HostInstance::alive(const std::string& name, const std::string& root) {
  agent::Fd lock(::open((root + "/" + name + "/lock").c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (lock.get() < 0) return false;
  // Our own open file description: the flock conflicts with the owner's even
  // when the owner is another instance in this very process.
  if (::flock(lock.get(), LOCK_EX | LOCK_NB) != 0) return errno == EWOULDBLOCK;
  return false;
}

std::vector<std::string> HostInstance::dead_instances(const std::string& root) {
  std::vector<std::string> out;
  DIR* d = ::opendir(root.c_str());
  if (!d) return out;
  while (struct dirent* e = ::readdir(d)) {
    std::string n = e->d_name;
    if (e->d_type == DT_DIR && is_instance_name(n) && !alive(n, root)) out.push_back(root + "/" + n);
  }
  ::closedir(d);
  return out;
}

void HostInstance::forget(const std::string& dir) {
  std::string ws = dir + "/ws";
  if (DIR* d = ::opendir(ws.c_str())) {
    while (struct dirent* e = ::readdir(d)) {
      if (e->d_name[0] != '.') ::rmdir((ws + "/" + e->d_name).c_str());
    }
    ::closedir(d);
  }
  ::rmdir(ws.c_str());
  ::unlink((dir + "/lock").c_str());
  ::rmdir(dir.c_str());
}

}  // namespace isb::process
