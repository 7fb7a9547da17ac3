// safe_path.hpp: the one module through which the host side touches a tree
// that sandboxed code can shape (a workspace, overlay layers, the executor's
// reports, the source a change set is read from, an apply target). See
// docs/security.md for the rule and the list of its users.
//
// Every lookup goes through openat2(2) from a descriptor of the root with
// RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS, and by default RESOLVE_NO_SYMLINKS
// too: the kernel refuses "..", absolute paths and symlinks during the same
// lookup that opens the file, so there is no window between a check and its
// use. Callers keep working on the returned descriptors (fstat, pread,
// unlinkat on the parent), never on path strings. Only the file tools, whose
// documented behaviour is to follow a symlink that stays inside the
// workspace, open their root with Links::kWithinRoot; the kernel still keeps
// every such lookup beneath the root.
//
//   auto root = BeneathRoot::open("/work/ws/ws-1");
//   auto fd = root->open_at("src/main.cpp", O_RDONLY);   // a symlink on the way: ELOOP
//
// Threading: a BeneathRoot is immutable after open() and may be shared.
#pragma once

#include <isb/core/result.hpp>

#include <sys/stat.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

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

//! Whether lookups beneath a root may pass through symlinks.
enum class Links {
  kRefuse,      //!< RESOLVE_NO_SYMLINKS: any symlink on the path is ELOOP
  kWithinRoot,  //!< symlinks are followed while they stay beneath the root
};

class BeneathRoot {
 public:
  //! Opens root (which must be an existing directory, named by a path the
  //! server made or the operator gave, never one the sandbox can shape) as
  //! the anchor.
  static Result<BeneathRoot> open(const std::string& root, Links links = Links::kRefuse);
  //! The directory rel beneath this root as a root of its own (same links
  //! policy); with create, missing directories are made (mode 0755, given
  //! to the root's owner) one beneath-lookup at a time.
  Result<BeneathRoot> sub(const std::string& rel, bool create) const;

  //! openat2(root, rel, flags, mode) beneath the root, under its links policy.
  Result<UniqueFd> open_at(const std::string& rel, int flags, mode_t mode = 0) const;
  //! The parent directory of rel (created, mode 0755 and adopted, when create_parents),
  //! and rel's last component. rel must not name the root itself.
  Result<std::pair<UniqueFd, std::string>> open_parent(const std::string& rel, bool create_parents) const;
  //! The whole content of the regular file rel (O_NOFOLLOW, O_NONBLOCK: a
  //! fifo never blocks), or kResourceExhausted when it is larger than cap:
  //! for small files only (reports, manifests); stream anything file-sized.
  Result<std::string> read_small(const std::string& rel, int64_t cap) const;
  //! lstat of rel without following a final symlink (the parent is resolved beneath).
  Result<struct stat> lstat(const std::string& rel) const;
  //! Removes rel and, for a directory, everything under it, never
  //! following a symlink; a missing entry is not an error. Counts removals.
  Status remove(const std::string& rel, int64_t* removed = nullptr) const;
  //! The root's path, for messages only: never reopen it to reach an entry.
  const std::string& path() const { return path_; }
  int fd() const { return fd_->get(); }
  Links links() const { return links_; }
  //! Gives fd (an entry the server just created under this root, O_PATH
  //! allowed) to the root's owner when the server runs as root. A workspace
  //! root belongs to whoever the sandbox runs as (an id-mapped or chowned
  //! owner), so what the file tools create stays writable by the sandbox.
  Status adopt(int fd, const std::string& rel) const;

 private:
  BeneathRoot(std::string path, std::shared_ptr<UniqueFd> fd, uid_t uid, gid_t gid, Links links)
      : path_(std::move(path)), fd_(std::move(fd)), owner_uid_(uid), owner_gid_(gid), links_(links) {}
  std::string path_;
  std::shared_ptr<UniqueFd> fd_;
  uid_t owner_uid_;
  gid_t owner_gid_;
  Links links_;
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

//! Removes name inside dir_fd (and, for a directory, everything under it)
//! without following symlinks; rel names it in messages.
Status remove_tree_at(int dir_fd, const std::string& name, const std::string& rel, int64_t& removed);

//! Removes the directory at path and everything under it, opening each
//! level by descriptor (never following a symlink), so a tree a sandbox
//! wrote can be deleted even while something swaps its entries. The path
//! itself is the server's (a workspace or state directory). Missing: ok.
Status remove_directory_tree(const std::string& path);

//! The non-empty "/"-separated components of a relative path.
std::vector<std::string> split_path(const std::string& rel);

//! Whether a symlink at rel with this target resolves inside the tree it
//! sits in, by its text alone (not absolute, never more ".." than its depth).
bool link_stays_beneath(const std::string& rel, const std::string& link_target);

//! errno of a failed lookup as an Error naming the client's path.
Error path_error(int err, const std::string& rel, const char* what);

}  // namespace isb::workspaces
