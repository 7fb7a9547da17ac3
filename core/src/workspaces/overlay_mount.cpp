// overlay_mount.cpp: mounting, unmounting and finding overlay workspaces.
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

#include <cerrno>
#include <cstring>
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

Status hide_in(int lower_dir, const std::string& prefix, const IgnoreRules& ignore,
               std::vector<std::string>& hidden) {
  int dup_fd = ::openat(lower_dir, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dup_fd < 0) return make_error(ErrorCode::kUnavailable, "cannot read " + prefix + ": " + std::strerror(errno));
  DIR* d = ::fdopendir(dup_fd);
  if (!d) {
    ::close(dup_fd);
    return make_error(ErrorCode::kUnavailable, "cannot read " + prefix + ": " + std::strerror(errno));
  }
  std::vector<std::string> subdirs;
  while (struct dirent* e = ::readdir(d)) {
    if (std::strcmp(e->d_name, ".") == 0 || std::strcmp(e->d_name, "..") == 0) continue;
    const std::string rel = prefix.empty() ? e->d_name : prefix + "/" + e->d_name;
    bool is_dir = e->d_type == DT_DIR;
    if (e->d_type == DT_UNKNOWN) {
      struct stat st;
      is_dir = ::fstatat(lower_dir, e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode);
    }
    if (is_credential(rel) || ignore.ignored(rel, is_dir)) {
      hidden.push_back(rel);
    } else if (is_dir) {
      subdirs.push_back(e->d_name);
    }
  }
  ::closedir(d);
  for (const auto& name : subdirs) {
    int sub = ::openat(lower_dir, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (sub < 0) continue;  // unreadable: overlayfs will not show its contents either
    UniqueFd owned(sub);
    if (auto st = hide_in(owned.get(), prefix.empty() ? name : prefix + "/" + name, ignore, hidden); !st) return st;
  }
  return ok_status();
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
                                                  const std::vector<std::string>& extra_excludes) {
  int fd = ::open(lower.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return make_error(ErrorCode::kUnavailable, "cannot read " + lower + ": " + std::strerror(errno));
  UniqueFd owned(fd);
  std::vector<std::string> hidden;
  if (auto st = hide_in(owned.get(), "", IgnoreRules::load(lower, extra_excludes), hidden); !st) return st.error();
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
