// idmapped_mount.cpp: open_tree(OPEN_TREE_CLONE) + mount_setattr(MOUNT_ATTR_IDMAP)
// + move_mount, with the mapping carried by a throwaway user namespace; and
// overlay workspaces mounted on such idmapped layers.
#include "idmapped_mount.hpp"

#include <fcntl.h>
#include <linux/magic.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <isb/sdk/plugin.hpp>
#include <vector>

#include "sandbox-agent/fd.hpp"

namespace isb::process {
namespace {

[[noreturn]] void unsupported(const std::string& step, int err) {
  throw sdk::Error(ISB_NOT_SUPPORTED, "idmapped mount: " + step + " failed: " + strerror(err));
}

void write_map(pid_t pid, const char* file, const std::string& line) {
  std::string path = "/proc/" + std::to_string(pid) + "/" + file;
  agent::Fd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
  if (fd.get() < 0 || ::write(fd.get(), line.data(), line.size()) != static_cast<ssize_t>(line.size())) {
    unsupported("writing " + line.substr(0, line.size() - 1) + " to " + path, errno);
  }
}

//! One line of an id map: on-disk id (inside the namespace) -> id seen (outside).
struct IdPair {
  uint32_t disk;
  uint32_t seen;
};

std::string map_text(const std::vector<IdPair>& pairs) {
  std::string out;
  for (const auto& p : pairs) out += std::to_string(p.disk) + " " + std::to_string(p.seen) + " 1\n";
  return out;
}

//! A user namespace whose maps are exactly the translation an idmapped mount
//! applies from on-disk ids to what users see.
agent::Fd idmap_namespace(const std::vector<IdPair>& uids, const std::vector<IdPair>& gids) {
  agent::Fd hold_r, hold_w;
  agent::make_pipe(hold_r, hold_w);
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
  agent::Fd ns;
  int err = 0;
  std::string step;
  try {
    write_map(static_cast<pid_t>(pid), "uid_map", map_text(uids));
    write_map(static_cast<pid_t>(pid), "gid_map", map_text(gids));
    ns = agent::Fd(::open(("/proc/" + std::to_string(pid) + "/ns/user").c_str(), O_RDONLY | O_CLOEXEC));
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

//! Clones source's mount (not recursively) with the mapping of ns, nosuid and
//! nodev, and attaches it at target (an existing empty directory).
void attach_idmapped(const std::string& source, const std::string& target, const agent::Fd& ns) {
  agent::Fd tree(static_cast<int>(
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

/// A temporary attach point, unmounted (lazily) and removed when it goes out of scope.
class AttachPoint {
 public:
  explicit AttachPoint(std::string dir) : dir_(std::move(dir)) {
    ::umount2(dir_.c_str(), MNT_DETACH);  // a leftover of a crash at this very step
    if (::mkdir(dir_.c_str(), 0700) != 0 && errno != EEXIST) unsupported("mkdir " + dir_, errno);
  }
  ~AttachPoint() {
    ::umount2(dir_.c_str(), MNT_DETACH);
    ::rmdir(dir_.c_str());
  }
  AttachPoint(const AttachPoint&) = delete;
  AttachPoint& operator=(const AttachPoint&) = delete;
  const std::string& dir() const { return dir_; }

 private:
  std::string dir_;
};

void check_overlay_option(const std::string& path) {
  if (path.find_first_of(",:\\") != std::string::npos) {
    throw sdk::Error(ISB_NOT_SUPPORTED, "overlayfs cannot take the path " + path + " (it contains ',', ':' or '\\')");
  }
}

void mount_overlay_at(const std::string& lower, const std::string& upper, const std::string& work,
                      const std::string& merged) {
  for (const auto* p : {&lower, &upper, &work}) check_overlay_option(*p);
  const std::string opts = "lowerdir=" + lower + ",upperdir=" + upper + ",workdir=" + work;
  if (::mount("overlay", merged.c_str(), "overlay", MS_NOSUID | MS_NODEV, opts.c_str()) != 0) {
    unsupported("mounting the overlay at " + merged, errno);
  }
  // overlayfs mounts read-only, with only a kernel log line, when it cannot
  // use its work dir: a workspace nobody can write is no workspace.
  struct statvfs vfs {};
  if (::statvfs(merged.c_str(), &vfs) != 0 || (vfs.f_flag & ST_RDONLY)) {
    ::umount2(merged.c_str(), MNT_DETACH);
    throw sdk::Error(ISB_NOT_SUPPORTED, "overlayfs mounted " + merged +
                                            " read-only (its work directory " + work + " was unusable)");
  }
}

}  // namespace

void mount_idmapped_bind(const std::string& source, const std::string& target, uid_t disk_uid, gid_t disk_gid,
                         uint32_t as_id) {
  agent::Fd ns = idmap_namespace({{disk_uid, as_id}}, {{disk_gid, as_id}});
  attach_idmapped(source, target, ns);
}

void mount_overlay_plain(const OverlayLayers& layers, const std::string& merged) {
  mount_overlay_at(layers.lower, layers.upper, layers.work, merged);
}

void mount_overlay_idmapped(const OverlayLayers& layers, const std::string& merged, uid_t disk_uid,
                            gid_t disk_gid, uint32_t as_id, const std::string& scratch) {
  // Root (the server's file tools, and overlayfs itself for its work dir)
  // must be able to create files through the layers too: an id the map lacks
  // makes creation fail with EOVERFLOW. Root keeps an on-disk id of its own
  // that never depends on the sandbox (0, or kRootOnDisk when the files'
  // owner is 0): the next mount, for another sandbox uid, must still see what
  // root created as root's, or overlayfs cannot reuse its work dir and falls
  // back to a read-only mount. The file tools give what they create to the
  // workspace root's owner, which lands on disk as disk_uid.
  constexpr uint32_t kRootOnDisk = 0x7ffffffe;
  auto with_root = [&](uint32_t disk) {
    std::vector<IdPair> v{{disk, as_id}};
    v.push_back(IdPair{disk == 0 ? kRootOnDisk : 0u, 0u});
    return v;
  };
  agent::Fd ns = idmap_namespace(with_root(disk_uid), with_root(disk_gid));
  const std::string upper_parent = std::filesystem::path(layers.upper).parent_path().string();
  if (std::filesystem::path(layers.work).parent_path().string() != upper_parent) {
    throw sdk::Error(ISB_INVALID_ARGUMENT, "the overlay's upper and work directories must be in one directory (got " +
                                               layers.upper + " and " + layers.work + ")");
  }
  // overlayfs takes its layers by path; the idmapped clones are attached
  // just long enough to be named. The overlay keeps private clones of them,
  // so the attach points go right after the mount.
  AttachPoint lower(scratch + ".lower");
  AttachPoint meta(scratch + ".layers");
  attach_idmapped(layers.lower, lower.dir(), ns);
  attach_idmapped(upper_parent, meta.dir(), ns);
  const auto leaf = [](const std::string& p) { return std::filesystem::path(p).filename().string(); };
  mount_overlay_at(lower.dir(), meta.dir() + "/" + leaf(layers.upper), meta.dir() + "/" + leaf(layers.work), merged);
}

}  // namespace isb::process
