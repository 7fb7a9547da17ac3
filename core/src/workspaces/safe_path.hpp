// safe_path.hpp: opening paths strictly beneath a directory, by file
// descriptor, so that no tool can reach outside a workspace.
//
// Every lookup goes through openat2(2) with RESOLVE_BENEATH |
// RESOLVE_NO_MAGICLINKS from a descriptor of the root: the kernel refuses
// "..", absolute paths and symlinks that would leave the root during the same
// lookup that opens the file, so there is no window between a check and its
// use. Callers keep working on the returned descriptors (fstat, pread,
// unlinkat on the parent), never on path strings.
//
//   auto root = BeneathRoot::open("/work/ws/ws-1");
//   auto fd = root->open("src/main.cpp", O_RDONLY);
//
// Threading: a BeneathRoot is immutable after open() and may be shared.
#pragma once

#include <isb/core/result.hpp>

#include <sys/stat.h>

#include <functional>
#include <memory>
#include <string>

namespace isb::workspaces {

//! An owned file descriptor, closed on destruction.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& o) noexcept : fd_(o.release()) {}
  UniqueFd& operator=(UniqueFd&& o) noexcept;
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd();
  int get() const { return fd_; }
  int release() {
    int f = fd_;
    fd_ = -1;
    return f;
  }

 private:
  int fd_ = -1;
};

//! Checks the spelling of a path a client sent: relative, no NUL, no ".."
//! component. "" and "." name the root. Returns the path with redundant "/"
//! and "." components removed. The kernel check in BeneathRoot is the real
//! guard; this one only gives clients a precise error message.
Result<std::string> normalize_relative(const std::string& path);

class BeneathRoot {
 public:
  //! Opens root (which must be an existing directory) as the anchor.
  static Result<BeneathRoot> open(const std::string& root);

  //! openat2(root, rel, flags, mode) with RESOLVE_BENEATH|RESOLVE_NO_MAGICLINKS.
  Result<UniqueFd> open_at(const std::string& rel, int flags, mode_t mode = 0) const;
  //! The parent directory of rel (created, mode 0755 and adopted, when create_parents),
  //! and rel's last component. rel must not name the root itself.
  Result<std::pair<UniqueFd, std::string>> open_parent(const std::string& rel, bool create_parents) const;
  //! lstat of rel without following a final symlink (the parent is resolved beneath).
  Result<struct stat> lstat(const std::string& rel) const;
  const std::string& path() const { return path_; }
  int fd() const { return fd_->get(); }
  //! Gives fd (an entry the server just created under this root, O_PATH
  //! allowed) to the root's owner when the server runs as root. A workspace
  //! root belongs to whoever the sandbox runs as (an id-mapped or chowned
  //! owner), so what the file tools create stays writable by the sandbox.
  Status adopt(int fd, const std::string& rel) const;

 private:
  BeneathRoot(std::string path, std::shared_ptr<UniqueFd> fd, uid_t uid, gid_t gid)
      : path_(std::move(path)), fd_(std::move(fd)), owner_uid_(uid), owner_gid_(gid) {}
  std::string path_;
  std::shared_ptr<UniqueFd> fd_;
  uid_t owner_uid_;
  gid_t owner_gid_;
};

//! One entry met by walk_beneath.
struct WalkEntry {
  std::string rel;          // relative to the walk's root, "/"-separated
  struct stat st;           // lstat (symlinks not followed)
  std::string link_target;  // for symlinks
};

//! Visits every entry under dir_fd depth first (parents before children),
//! opening each directory with O_NOFOLLOW relative to its parent, so a
//! symlink is reported, never entered. visit returns false to skip a
//! directory's contents. Unreadable directories are an error.
Status walk_beneath(int dir_fd, const std::string& prefix, const std::function<bool(const WalkEntry&)>& visit);

//! errno of a failed lookup as an Error naming the client's path.
Error path_error(int err, const std::string& rel, const char* what);

}  // namespace isb::workspaces
