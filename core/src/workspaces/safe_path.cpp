// safe_path.cpp: openat2(RESOLVE_BENEATH) lookups and a descriptor-based walk.
#include "workspaces/safe_path.hpp"

#include "workspaces/file_copy.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

namespace isb::workspaces {

UniqueFd& UniqueFd::operator=(UniqueFd&& o) noexcept {
  if (this != &o) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = o.release();
  }
  return *this;
}

UniqueFd::~UniqueFd() {
  if (fd_ >= 0) ::close(fd_);
}

namespace {

uint64_t resolve_flags(Links links) {
  return RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS | (links == Links::kRefuse ? RESOLVE_NO_SYMLINKS : 0);
}

int sys_openat2(int dirfd, const char* path, int flags, mode_t mode, Links links) {
  struct open_how how;
  std::memset(&how, 0, sizeof how);
  how.flags = static_cast<uint64_t>(flags) | O_CLOEXEC;
  how.mode = (flags & (O_CREAT | O_TMPFILE)) ? mode : 0;
  how.resolve = resolve_flags(links);
  for (;;) {
    long r = ::syscall(SYS_openat2, dirfd, path, &how, sizeof how);
    // EAGAIN: a concurrent rename raced the lookup; the kernel asks to retry.
    if (r < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    return static_cast<int>(r);
  }
}

}  // namespace

std::vector<std::string> split_path(const std::string& rel) {
  std::vector<std::string> parts;
  size_t i = 0;
  while (i <= rel.size()) {
    size_t j = rel.find('/', i);
    if (j == std::string::npos) j = rel.size();
    if (j > i) parts.push_back(rel.substr(i, j - i));
    i = j + 1;
  }
  return parts;
}

bool link_stays_beneath(const std::string& rel, const std::string& link_target) {
  if (link_target.empty() || link_target[0] == '/') return false;
  int64_t depth = 0;
  for (char c : rel) depth += c == '/';
  for (const auto& part : split_path(link_target)) {
    if (part == "..") {
      if (--depth < 0) return false;
    } else if (part != ".") {
      ++depth;
    }
  }
  return true;
}

Error path_error(int err, const std::string& rel, const char* what) {
  const std::string p = "'" + rel + "'";
  switch (err) {
    case EXDEV:
      return make_error(ErrorCode::kPermissionDenied,
                        std::string("cannot ") + what + " " + p +
                            ": it resolves outside the workspace (through '..' or a symlink); use a path inside it");
    case ELOOP:
      return make_error(ErrorCode::kPermissionDenied,
                        std::string("cannot ") + what + " " + p +
                            ": the path goes through a symlink, which the server does not follow here; name the "
                            "real file");
    case ENOENT:
      return make_error(ErrorCode::kNotFound, std::string("cannot ") + what + " " + p +
                                                  ": no such file or directory in the workspace; list_files shows "
                                                  "what exists");
    case ENOTDIR:
      return make_error(ErrorCode::kInvalidArgument,
                        std::string("cannot ") + what + " " + p + ": a component of the path is not a directory");
    case EISDIR:
      return make_error(ErrorCode::kInvalidArgument, std::string("cannot ") + what + " " + p + ": it is a directory");
    case EEXIST:
      return make_error(ErrorCode::kAlreadyExists, std::string("cannot ") + what + " " + p + ": it already exists");
    case EACCES:
    case EPERM:
      return make_error(ErrorCode::kPermissionDenied, std::string("cannot ") + what + " " + p + ": permission denied");
    case ENOSPC:
    case EDQUOT:
      return make_error(ErrorCode::kResourceExhausted,
                        std::string("cannot ") + what + " " + p + ": the disk is full; delete files or ask for more");
    default:
      return make_error(ErrorCode::kUnavailable, std::string("cannot ") + what + " " + p + ": " + std::strerror(err));
  }
}

Result<std::string> normalize_relative(const std::string& path) {
  if (path.find('\0') != std::string::npos) {
    return make_error(ErrorCode::kInvalidArgument, "path contains a NUL byte; send a plain relative path");
  }
  if (!path.empty() && path[0] == '/') {
    return make_error(ErrorCode::kInvalidArgument,
                      "path '" + path + "' is absolute; paths are relative to the workspace root, e.g. 'src/main.c'");
  }
  std::string out;
  for (const auto& part : split_path(path)) {
    if (part == ".") continue;
    if (part == "..") {
      return make_error(ErrorCode::kPermissionDenied, "path '" + path +
                                                          "' contains '..'; paths may not leave the workspace, name "
                                                          "the file from the workspace root instead");
    }
    out += (out.empty() ? "" : "/") + part;
  }
  return out;
}

Result<BeneathRoot> BeneathRoot::open(const std::string& root, Links links) {
  int fd = ::open(root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) {
    return make_error(ErrorCode::kUnavailable, "cannot open directory " + root + ": " + std::strerror(errno));
  }
  struct stat st {};
  if (::fstat(fd, &st) < 0) {
    const int err = errno;
    ::close(fd);
    return make_error(ErrorCode::kUnavailable, "cannot stat directory " + root + ": " + std::strerror(err));
  }
  return BeneathRoot(root, std::make_shared<UniqueFd>(fd), st.st_uid, st.st_gid, links);
}

Result<BeneathRoot> BeneathRoot::sub(const std::string& rel, bool create) const {
  auto norm = normalize_relative(rel);
  if (!norm) return norm.error();
  if (norm->empty()) return *this;
  UniqueFd dir;
  if (create) {
    // open_parent makes the missing parents; the last level is made here.
    auto parent = open_parent(*norm, true);
    if (!parent) return parent.error();
    if (::mkdirat(parent->first.get(), parent->second.c_str(), 0755) == 0) {
      int made = sys_openat2(parent->first.get(), parent->second.c_str(), O_PATH | O_DIRECTORY, 0, links_);
      if (made < 0) return path_error(errno, rel, "open");
      dir = UniqueFd(made);
      if (auto st = adopt(dir.get(), rel); !st) return st.error();
    } else if (errno != EEXIST) {
      return path_error(errno, rel, "create");
    }
  }
  if (dir.get() < 0) {
    int fd = sys_openat2(fd_->get(), norm->c_str(), O_PATH | O_DIRECTORY, 0, links_);
    if (fd < 0) return path_error(errno, rel, "open");
    dir = UniqueFd(fd);
  }
  // The sub-root keeps this root's owner: what is made beneath it is the
  // workspace owner's too.
  return BeneathRoot(path_ + "/" + *norm, std::make_shared<UniqueFd>(dir.release()), owner_uid_, owner_gid_, links_);
}

Status BeneathRoot::remove(const std::string& rel, int64_t* removed) const {
  auto parent = open_parent(rel, false);
  if (!parent) return parent.error().code == ErrorCode::kNotFound ? ok_status() : Status(parent.error());
  int64_t count = 0;
  Status st = remove_tree_at(parent->first.get(), parent->second, rel, count);
  if (removed) *removed += count;
  if (!st && st.error().code == ErrorCode::kNotFound) return ok_status();
  return st;
}

Status BeneathRoot::adopt(int fd, const std::string& rel) const {
  if (::geteuid() != 0) return ok_status();
  struct stat st {};
  if (::fstatat(fd, "", &st, AT_EMPTY_PATH) == 0 && st.st_uid == owner_uid_ && st.st_gid == owner_gid_) {
    return ok_status();
  }
  if (::fchownat(fd, "", owner_uid_, owner_gid_, AT_EMPTY_PATH) < 0) return path_error(errno, rel, "give to its owner");
  return ok_status();
}

Result<UniqueFd> BeneathRoot::open_at(const std::string& rel, int flags, mode_t mode) const {
  auto norm = normalize_relative(rel);
  if (!norm) return norm.error();
  int fd = sys_openat2(fd_->get(), norm->empty() ? "." : norm->c_str(), flags, mode, links_);
  if (fd < 0) return path_error(errno, rel, (flags & (O_WRONLY | O_RDWR)) ? "write" : "open");
  return UniqueFd(fd);
}

Result<std::pair<UniqueFd, std::string>> BeneathRoot::open_parent(const std::string& rel, bool create_parents) const {
  auto norm = normalize_relative(rel);
  if (!norm) return norm.error();
  auto parts = split_path(*norm);
  if (parts.empty()) {
    return make_error(ErrorCode::kInvalidArgument, "path '" + rel + "' names the workspace root, not an entry in it");
  }
  std::string name = parts.back();
  parts.pop_back();
  UniqueFd dir(::fcntl(fd_->get(), F_DUPFD_CLOEXEC, 0));
  std::string walked;
  for (const auto& p : parts) {
    walked += (walked.empty() ? "" : "/") + p;
    // Each step is its own beneath-lookup from the previous directory, so a
    // symlink swapped in between steps still cannot lead out.
    int next = sys_openat2(dir.get(), p.c_str(), O_PATH | O_DIRECTORY, 0, links_);
    if (next < 0 && errno == ENOENT && create_parents) {
      const bool made = ::mkdirat(dir.get(), p.c_str(), 0755) == 0;
      if (!made && errno != EEXIST) return path_error(errno, walked, "create");
      next = sys_openat2(dir.get(), p.c_str(), O_PATH | O_DIRECTORY, 0, links_);
      if (next >= 0 && made) {
        UniqueFd created(next);
        if (auto st = adopt(created.get(), walked); !st) return st.error();
        next = created.release();
      }
    }
    if (next < 0) return path_error(errno, walked, "open");
    dir = UniqueFd(next);
  }
  return std::make_pair(std::move(dir), name);
}

Result<std::string> BeneathRoot::read_small(const std::string& rel, int64_t cap) const {
  auto fd = open_at(rel, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY);
  if (!fd) return fd.error();
  return read_capped(fd->get(), cap, rel);
}

Result<struct stat> BeneathRoot::lstat(const std::string& rel) const {
  auto norm = normalize_relative(rel);
  if (!norm) return norm.error();
  struct stat st;
  if (norm->empty()) {
    if (::fstat(fd_->get(), &st) < 0) return path_error(errno, rel, "stat");
    return st;
  }
  auto parent = open_parent(*norm, false);
  if (!parent) return parent.error();
  if (::fstatat(parent->first.get(), parent->second.c_str(), &st, AT_SYMLINK_NOFOLLOW) < 0) {
    return path_error(errno, rel, "stat");
  }
  return st;
}

namespace {

Status walk_dir(int dir_fd, const std::string& prefix, const std::function<bool(const WalkEntry&)>& visit) {
  int dup_fd = ::openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dup_fd < 0) return path_error(errno, prefix.empty() ? "." : prefix, "list");
  DIR* d = ::fdopendir(dup_fd);
  if (!d) {
    ::close(dup_fd);
    return path_error(errno, prefix, "list");
  }
  std::vector<std::string> names;
  while (struct dirent* e = ::readdir(d)) {
    if (std::strcmp(e->d_name, ".") == 0 || std::strcmp(e->d_name, "..") == 0) continue;
    names.emplace_back(e->d_name);
  }
  ::closedir(d);
  std::sort(names.begin(), names.end());
  for (const auto& name : names) {
    WalkEntry entry;
    entry.rel = prefix.empty() ? name : prefix + "/" + name;
    if (::fstatat(dir_fd, name.c_str(), &entry.st, AT_SYMLINK_NOFOLLOW) < 0) {
      if (errno == ENOENT) continue;  // removed while we walked
      return path_error(errno, entry.rel, "stat");
    }
    if (S_ISLNK(entry.st.st_mode)) {
      std::string buf(static_cast<size_t>(entry.st.st_size > 0 ? entry.st.st_size : 4096) + 1, '\0');
      ssize_t n = ::readlinkat(dir_fd, name.c_str(), buf.data(), buf.size());
      if (n >= 0) entry.link_target.assign(buf.data(), static_cast<size_t>(n));
    }
    bool descend = visit(entry);
    if (descend && S_ISDIR(entry.st.st_mode)) {
      int sub = ::openat(dir_fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (sub < 0) {
        if (errno == ENOENT) continue;
        return path_error(errno, entry.rel, "list");
      }
      UniqueFd owned(sub);
      if (auto st = walk_dir(owned.get(), entry.rel, visit); !st) return st;
    }
  }
  return ok_status();
}

}  // namespace

Status walk_beneath(int dir_fd, const std::string& prefix, const std::function<bool(const WalkEntry&)>& visit) {
  return walk_dir(dir_fd, prefix, visit);
}

Status remove_tree_at(int dir_fd, const std::string& name, const std::string& rel, int64_t& removed) {
  struct stat st;
  if (::fstatat(dir_fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) < 0) return path_error(errno, rel, "delete");
  if (S_ISDIR(st.st_mode)) {
    int sub = ::openat(dir_fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (sub < 0) return path_error(errno, rel, "delete");
    UniqueFd owned(sub);
    std::vector<std::string> children;
    if (auto s = walk_beneath(owned.get(), "", [&](const WalkEntry& e) {
          children.push_back(e.rel);
          return false;  // direct children only; recursion happens below
        });
        !s) {
      return s;
    }
    for (const auto& c : children) {
      if (auto s = remove_tree_at(owned.get(), c, rel + "/" + c, removed); !s) return s;
    }
    if (::unlinkat(dir_fd, name.c_str(), AT_REMOVEDIR) < 0) return path_error(errno, rel, "delete");
  } else if (::unlinkat(dir_fd, name.c_str(), 0) < 0) {
    return path_error(errno, rel, "delete");
  }
  ++removed;
  return ok_status();
}

Status remove_directory_tree(const std::string& path) {
  const auto slash = path.find_last_of('/');
  const std::string parent = slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
  const std::string name = slash == std::string::npos ? path : path.substr(slash + 1);
  int dir = ::open(parent.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (dir < 0) {
    if (errno == ENOENT) return ok_status();
    return make_error(ErrorCode::kUnavailable, "cannot open " + parent + ": " + std::strerror(errno));
  }
  UniqueFd owned(dir);
  int64_t removed = 0;
  Status st = remove_tree_at(owned.get(), name, path, removed);
  if (!st && st.error().code == ErrorCode::kNotFound) return ok_status();
  return st;
}

}  // namespace isb::workspaces
