// overlay_mount.cpp: mounting, unmounting and finding overlay workspaces.
// host paths only: /proc/self/mountinfo and the roots of overlay layers the server made; entries inside them go through safe_path.
#include "workspaces/overlay_mount.hpp"

#include "workspaces/credentials.hpp"
#include "workspaces/ignore_rules.hpp"
#include "workspaces/safe_path.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <iterator>
#include <mutex>
#include <thread>
#include <fstream>
#include <sstream>

namespace isb::workspaces {

namespace {

// mountinfo escapes space, tab, newline and backslash as \ooo.
std::string unescape_mountinfo(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size()) {
      out += static_cast<char>(std::stoi(s.substr(i + 1, 3), nullptr, 8));
      i += 3;
    } else {
      out += s[i];
    }
  }
  return out;
}

std::vector<std::string> mount_points() {
  std::vector<std::string> out;
  std::ifstream in("/proc/self/mountinfo");
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream ls(line);
    std::string id, parent, devno, root, point;
    if (ls >> id >> parent >> devno >> root >> point) out.push_back(unescape_mountinfo(point));
  }
  return out;
}

//! One directory of the lower layer still to be scanned.
struct PendingDir {
  UniqueFd fd;
  std::string rel;
};

//! Reads one directory: entries to hide go to hidden, subdirectories (opened
//! without following symlinks) to subdirs. Reads entries only, no stat per
//! file unless the filesystem gives no d_type.
Status scan_dir(const PendingDir& dir, const IgnoreRules& ignore, const SecretPaths& secrets,
                std::vector<std::string>& hidden, std::vector<PendingDir>& subdirs) {
  const std::string shown = dir.rel.empty() ? "the source" : dir.rel;
  int dup_fd = ::openat(dir.fd.get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dup_fd < 0) return make_error(ErrorCode::kUnavailable, "cannot read " + shown + ": " + std::strerror(errno));
  DIR* d = ::fdopendir(dup_fd);
  if (!d) {
    ::close(dup_fd);
    return make_error(ErrorCode::kUnavailable, "cannot read " + shown + ": " + std::strerror(errno));
  }
  std::vector<std::string> names;
  while (struct dirent* e = ::readdir(d)) {
    if (std::strcmp(e->d_name, ".") == 0 || std::strcmp(e->d_name, "..") == 0) continue;
    bool is_dir = e->d_type == DT_DIR;
    if (e->d_type == DT_UNKNOWN) {
      struct stat st;
      is_dir = ::fstatat(dir.fd.get(), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode);
    }
    // Most entries need no path at all: no secret pattern can match their
    // name, and without rules nothing else is hidden, so the per-entry
    // string work is skipped for most entries.
    const bool candidate = secrets.could_match(e->d_name);
    if (candidate || !ignore.empty()) {
      const std::string rel = dir.rel.empty() ? e->d_name : dir.rel + "/" + e->d_name;
      if ((candidate && secrets.matches(rel)) || ignore.ignored(rel, is_dir)) {
        hidden.push_back(rel);
        continue;
      }
    }
    if (is_dir) {
      names.emplace_back(e->d_name);
    }
  }
  ::closedir(d);
  for (const auto& name : names) {
    int sub = ::openat(dir.fd.get(), name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (sub < 0) continue;  // unreadable: overlayfs will not show its contents either
    subdirs.push_back(PendingDir{UniqueFd(sub), dir.rel.empty() ? name : dir.rel + "/" + name});
  }
  return ok_status();
}

//! Scans the whole lower layer with a few threads sharing a queue of
//! directories: creating an overlay workspace is this walk plus a mount, so
//! its time is the walk's.
Result<std::vector<std::string>> find_hidden(UniqueFd root, const IgnoreRules& ignore, const SecretPaths& secrets) {
  std::vector<std::string> hidden;
  std::vector<PendingDir> first;
  PendingDir top{std::move(root), ""};
  if (auto st = scan_dir(top, ignore, secrets, hidden, first); !st) return st.error();
  std::mutex mu;
  std::condition_variable cv;
  std::deque<PendingDir> queue(std::make_move_iterator(first.begin()), std::make_move_iterator(first.end()));
  int busy = 0;
  auto worker = [&] {
    std::vector<std::string> found;
    std::unique_lock<std::mutex> lock(mu);
    for (;;) {
      cv.wait(lock, [&] { return !queue.empty() || busy == 0; });
      if (queue.empty()) break;  // and nobody can add more
      PendingDir dir = std::move(queue.front());
      queue.pop_front();
      ++busy;
      lock.unlock();
      std::vector<PendingDir> subdirs;
      (void)scan_dir(dir, ignore, secrets, found, subdirs);  // unreadable below the root: nothing to show, nothing to hide
      dir.fd = UniqueFd();
      lock.lock();
      for (auto& s : subdirs) queue.push_back(std::move(s));
      --busy;
      cv.notify_all();
    }
    hidden.insert(hidden.end(), found.begin(), found.end());
  };
  const size_t n = std::clamp<size_t>(std::thread::hardware_concurrency(), 1, 4);
  std::vector<std::thread> pool;
  for (size_t i = 1; i < n && !queue.empty(); ++i) pool.emplace_back(worker);
  worker();
  for (auto& t : pool) t.join();
  std::sort(hidden.begin(), hidden.end());
  return hidden;
}

}  // namespace

bool is_whiteout(unsigned mode, unsigned long rdev) { return S_ISCHR(mode) && major(rdev) == 0 && minor(rdev) == 0; }

Status mount_overlay(const OverlayLayout& l) {
  for (const auto* p : {&l.lower, &l.upper, &l.work}) {
    if (p->find_first_of(",:\\") != std::string::npos) {
      return make_error(ErrorCode::kUnavailable,
                        "overlayfs cannot take the path " + *p + " (it contains ',', ':' or '\\')");
    }
  }
  const std::string opts = "lowerdir=" + l.lower + ",upperdir=" + l.upper + ",workdir=" + l.work;
  if (::mount("overlay", l.merged.c_str(), "overlay", MS_NOSUID | MS_NODEV, opts.c_str()) < 0) {
    const int err = errno;
    return make_error(ErrorCode::kUnavailable,
                      std::string("overlayfs mount failed: ") + std::strerror(err) +
                          (err == EPERM ? " (the server is not root and has no CAP_SYS_ADMIN)"
                           : err == ENODEV ? " (the kernel has no overlay filesystem)"
                                           : ""));
  }
  return ok_status();
}

bool is_mount_point(const std::string& path) {
  for (const auto& p : mount_points()) {
    if (p == path) return true;
  }
  return false;
}

std::vector<std::string> mounts_under(const std::string& dir) {
  std::vector<std::string> out;
  const std::string prefix = dir.back() == '/' ? dir : dir + "/";
  for (const auto& p : mount_points()) {
    if (p.compare(0, prefix.size(), prefix) == 0) out.push_back(p);
  }
  return out;
}

Status unmount_if_mounted(const std::string& path) {
  if (!is_mount_point(path)) return ok_status();
  if (::umount2(path.c_str(), MNT_DETACH) < 0) {
    return make_error(ErrorCode::kUnavailable, "cannot unmount " + path + ": " + std::strerror(errno));
  }
  return ok_status();
}

Result<std::vector<std::string>> hide_credentials(const std::string& lower, const std::string& upper,
                                                  const std::vector<std::string>& extra_excludes,
                                                  const SecretPaths& secrets) {
  int fd = ::open(lower.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return make_error(ErrorCode::kUnavailable, "cannot read " + lower + ": " + std::strerror(errno));
  auto found = find_hidden(UniqueFd(fd), IgnoreRules::load(lower, extra_excludes), secrets);
  if (!found) return found.error();
  std::vector<std::string> hidden = std::move(*found);
  auto up = BeneathRoot::open(upper);
  if (!up) return up.error();
  for (const auto& rel : hidden) {
    auto parent = up->open_parent(rel, true);
    if (!parent) return parent.error();
    if (::mknodat(parent->first.get(), parent->second.c_str(), S_IFCHR | 0, makedev(0, 0)) < 0 && errno != EEXIST) {
      return make_error(ErrorCode::kUnavailable,
                        "cannot hide credential '" + rel + "' from the overlay: " + std::strerror(errno));
    }
  }
  return hidden;
}

}  // namespace isb::workspaces
