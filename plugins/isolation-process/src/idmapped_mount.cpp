// idmapped_mount.cpp: open_tree(OPEN_TREE_CLONE) + mount_setattr(MOUNT_ATTR_IDMAP)
// + move_mount, with the mapping carried by a throwaway user namespace.
#include "idmapped_mount.hpp"

#include <fcntl.h>
#include <linux/magic.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <isb/sdk/plugin.hpp>

#include "fd.hpp"

namespace isb::process {
namespace {

[[noreturn]] void unsupported(const std::string& step, int err) {
  throw sdk::Error(ISB_NOT_SUPPORTED, "idmapped mount: " + step + " failed: " + strerror(err));
}

void write_map(pid_t pid, const char* file, const std::string& line) {
  std::string path = "/proc/" + std::to_string(pid) + "/" + file;
  Fd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
  if (fd.get() < 0 || ::write(fd.get(), line.data(), line.size()) != static_cast<ssize_t>(line.size())) {
    unsupported("writing " + line.substr(0, line.size() - 1) + " to " + path, errno);
  }
}

//! A user namespace mapping disk_uid/gid (inside) to as_id (outside): exactly
//! the translation an idmapped mount applies from on-disk ids to what users see.
Fd idmap_namespace(uid_t disk_uid, gid_t disk_gid, uint32_t as_id) {
  Fd hold_r, hold_w;
  make_pipe(hold_r, hold_w);
  // Raw clone: in a multi-threaded server the child may only make system
  // calls. It waits for the pipe to close, then exits; the namespace lives on
  // through the fd opened below.
  long pid = ::syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, nullptr, nullptr, nullptr, nullptr);
  if (pid == 0) {
    ::close(hold_w.get());  // or the read below would never see the end of the pipe
    char c;
    while (::read(hold_r.get(), &c, 1) < 0 && errno == EINTR) {
    }
    ::_exit(0);
  }
  if (pid < 0) unsupported("clone(CLONE_NEWUSER)", errno);
  hold_r.reset();
  Fd ns;
  int err = 0;
  std::string step;
  try {
    write_map(static_cast<pid_t>(pid), "uid_map",
              std::to_string(disk_uid) + " " + std::to_string(as_id) + " 1\n");
    write_map(static_cast<pid_t>(pid), "gid_map",
              std::to_string(disk_gid) + " " + std::to_string(as_id) + " 1\n");
    ns = Fd(::open(("/proc/" + std::to_string(pid) + "/ns/user").c_str(), O_RDONLY | O_CLOEXEC));
    if (ns.get() < 0) {
      err = errno;
      step = "opening the user namespace";
    }
  } catch (...) {
    hold_w.reset();
    while (::waitpid(static_cast<pid_t>(pid), nullptr, __WALL) < 0 && errno == EINTR) {
    }
    throw;
  }
  hold_w.reset();
  while (::waitpid(static_cast<pid_t>(pid), nullptr, __WALL) < 0 && errno == EINTR) {
  }
  if (err) unsupported(step, err);
  return ns;
}

}  // namespace

void mount_idmapped_bind(const std::string& source, const std::string& target, uid_t disk_uid, gid_t disk_gid,
                         uint32_t as_id) {
  Fd ns = idmap_namespace(disk_uid, disk_gid, as_id);
  Fd tree(static_cast<int>(
      ::syscall(SYS_open_tree, AT_FDCWD, source.c_str(), OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC)));
  if (tree.get() < 0) unsupported("open_tree of " + source, errno);
  struct mount_attr attr {};
  attr.attr_set = MOUNT_ATTR_IDMAP | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV;
  attr.userns_fd = static_cast<uint64_t>(ns.get());
  if (::syscall(SYS_mount_setattr, tree.get(), "", AT_EMPTY_PATH, &attr, sizeof attr) != 0) {
    int err = errno;
    struct statfs fs {};
    if (err == EINVAL && ::fstatfs(tree.get(), &fs) == 0 && fs.f_type == OVERLAYFS_SUPER_MAGIC) {
      throw sdk::Error(ISB_NOT_SUPPORTED,
                       "idmapped mount: " + source +
                           " is an overlayfs mount, and overlayfs cannot be idmapped itself (only its layers "
                           "can, when the overlay is mounted on idmapped lower and upper directories)");
    }
    unsupported("mount_setattr(MOUNT_ATTR_IDMAP) on " + source, err);
  }
  // Until moved, the clone is a detached mount that goes away with its fd.
  if (::syscall(SYS_move_mount, tree.get(), "", AT_FDCWD, target.c_str(), MOVE_MOUNT_F_EMPTY_PATH) != 0) {
    unsupported("move_mount to " + target, errno);
  }
}

}  // namespace isb::process
