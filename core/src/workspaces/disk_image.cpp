// disk_image.cpp: mkfs.ext4 on a sparse file, attached to a loop device with
// LOOP_CONFIGURE (autoclear) and mounted nodev,nosuid.
// host paths only: the disk images in the server's state directory, their mount points and /dev/loop*; nothing here names a path inside a workspace.
#include "workspaces/disk_image.hpp"

#include "workspaces/overlay_mount.hpp"
#include "workspaces/safe_path.hpp"

#include <fcntl.h>
#include <linux/loop.h>
#include <spawn.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

extern char** environ;

namespace isb::workspaces {

namespace {

const char* mkfs_path() {
  for (const char* p : {"/usr/sbin/mkfs.ext4", "/sbin/mkfs.ext4", "/usr/bin/mkfs.ext4"}) {
    if (::access(p, X_OK) == 0) return p;
  }
  return nullptr;
}

Error fail(const std::string& what) {
  return make_error(ErrorCode::kUnavailable, what + ": " + std::strerror(errno));
}

// Runs argv (no shell), stdout and stderr to /dev/null; its exit status.
int run(const std::vector<std::string>& argv) {
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
  pid_t pid = -1;
  int rc = ::posix_spawn(&pid, args[0], &fa, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) return -1;
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// A loop device bound to an image, held open: with autoclear the kernel
// detaches it at its last close, so it must stay open until it is mounted.
struct Loop {
  std::string dev;
  UniqueFd fd;
};

// Attaches image to a free loop device that detaches itself once unmounted.
Result<Loop> attach_loop(const std::string& image) {
  int ctl = ::open("/dev/loop-control", O_RDWR | O_CLOEXEC);
  if (ctl < 0) return fail("cannot open /dev/loop-control");
  int backing = ::open(image.c_str(), O_RDWR | O_CLOEXEC | O_NOFOLLOW);
  if (backing < 0) {
    ::close(ctl);
    return fail("cannot open the disk image " + image);
  }
  Result<Loop> out = make_error(ErrorCode::kUnavailable, "no free loop device for " + image);
  // Another process may take the device between GET_FREE and CONFIGURE: retry.
  for (int attempt = 0; attempt < 16; ++attempt) {
    int n = ::ioctl(ctl, LOOP_CTL_GET_FREE);
    if (n < 0) {
      out = fail("no free loop device");
      break;
    }
    const std::string dev = "/dev/loop" + std::to_string(n);
    int lfd = ::open(dev.c_str(), O_RDWR | O_CLOEXEC);
    if (lfd < 0) {
      out = fail("cannot open " + dev);
      break;
    }
    struct loop_config cfg;
    std::memset(&cfg, 0, sizeof cfg);
    cfg.fd = static_cast<uint32_t>(backing);
    cfg.info.lo_flags = LO_FLAGS_AUTOCLEAR;
    std::strncpy(reinterpret_cast<char*>(cfg.info.lo_file_name), image.c_str(), LO_NAME_SIZE - 1);
    const int rc = ::ioctl(lfd, LOOP_CONFIGURE, &cfg);
    const int err = errno;
    if (rc == 0) {
      out = Loop{dev, UniqueFd(lfd)};
      break;
    }
    ::close(lfd);
    if (err != EBUSY) {
      errno = err;
      out = fail("cannot attach " + image + " to " + dev);
      break;
    }
  }
  ::close(backing);
  ::close(ctl);
  return out;
}

Status mount_image_at(const std::string& image, const std::string& mount_point) {
  auto loop = attach_loop(image);
  if (!loop) return loop.error();
  if (::mount(loop->dev.c_str(), mount_point.c_str(), "ext4", MS_NODEV | MS_NOSUID | MS_NOATIME, "") < 0) {
    // Closing the device below detaches it (autoclear): nothing stays bound.
    return fail("cannot mount the disk image " + image + " on " + mount_point);
  }
  return ok_status();  // the mount holds the device now; our fd closes
}

}  // namespace

const std::optional<DiskImageGap>& disk_image_gap() {
  static const std::optional<DiskImageGap> gap = []() -> std::optional<DiskImageGap> {
    if (::geteuid() != 0) {
      return DiskImageGap{"the server is not root (loop devices and mounts need it)", "run the server as root"};
    }
    if (::access("/dev/loop-control", R_OK | W_OK) != 0) {
      return DiskImageGap{"/dev/loop-control is not available", "sudo modprobe loop"};
    }
    if (!mkfs_path()) {
      return DiskImageGap{"mkfs.ext4 is not installed (Debian: e2fsprogs)", "sudo apt-get install e2fsprogs"};
    }
    return std::nullopt;
  }();
  return gap;
}

const std::optional<std::string>& disk_images_unavailable() {
  static const std::optional<std::string> why =
      disk_image_gap() ? std::optional<std::string>(disk_image_gap()->why) : std::nullopt;
  return why;
}

Status create_disk_image(const std::string& image, int64_t size_mb, const std::string& mount_point, uid_t owner,
                         gid_t group, mode_t mode) {
  if (const auto& why = disk_images_unavailable()) {
    return make_error(ErrorCode::kUnavailable, "no disk image for " + mount_point + ": " + *why);
  }
  int fd = ::open(image.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) return fail("cannot create the disk image " + image);
  const int rc = ::ftruncate(fd, static_cast<off_t>(size_mb) << 20);
  ::close(fd);
  if (rc < 0) return fail("cannot size the disk image " + image);
  // No journal (a workspace is rebuilt, not recovered), no reserved blocks
  // (disk_mb is all the sandbox's), lazy tables (creation stays ~20 ms).
  const int status = run({mkfs_path(), "-q", "-F", "-m", "0", "-O", "^has_journal", "-E",
                          "lazy_itable_init=1,nodiscard,root_owner=" + std::to_string(owner) + ":" +
                              std::to_string(group),
                          image});
  if (status != 0) {
    return make_error(ErrorCode::kUnavailable,
                      "mkfs.ext4 failed (exit " + std::to_string(status) + ") on the disk image " + image);
  }
  if (auto st = mount_image_at(image, mount_point); !st) return st;
  // mkfs made lost+found; the sandbox sees the root as its own directory.
  ::rmdir((mount_point + "/lost+found").c_str());
  if (::chmod(mount_point.c_str(), mode & 07777) < 0) return fail("cannot set the mode of " + mount_point);
  return ok_status();
}

Status mount_disk_image(const std::string& image, const std::string& mount_point) {
  if (is_mount_point(mount_point)) return ok_status();
  return mount_image_at(image, mount_point);
}

}  // namespace isb::workspaces
