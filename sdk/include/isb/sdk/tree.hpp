// tree.hpp: reading a directory tree that hostile code may change while it is
// read, through descriptors only.
//
// A host hands an analyzer the tree as a directory fd (ABI 1.2,
// isb_analyzer_api.analyze_tree) and the SDK wraps it in a Tree. Every lookup
// beneath it is one openat2(2) with RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS |
// RESOLVE_NO_MAGICLINKS: the kernel refuses "..", absolute paths, symlinks and
// /proc magic links anywhere on the path in the same lookup that opens the
// file. A directory that sandboxed code swaps for a symlink between a listing
// and an open therefore makes the open fail (ELOOP) instead of leading out of
// the tree; there is no window between a check and its use to race.
//
//   std::string analyze(const isb::sdk::Tree& tree, const std::string& options) override {
//     std::string text;
//     int err = 0;
//     if (tree.read_file("web/package.json", 1 << 20, text, &err) != isb::sdk::ReadStatus::kOk) ...
//     std::vector<isb::sdk::DirEntry> entries;
//     if (int e = tree.list("web", entries)) ...  // e is an errno; isb::sdk::describe_error(e)
//   }
//
// Never build a path string from the tree (there is none to build from), and
// never open a name with plain open/openat/fopen/std::ifstream: go through
// Tree or open_beneath.
//
// Ownership: a Tree borrows the root fd (the host's, valid during the analyze
// call, never closed by the plugin); an Fd owns its descriptor.
// Threading: a Tree only reads; one Tree may be used from several threads.
#pragma once

#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace isb::sdk {

//! The resolve flags of every lookup beneath a tree.
inline constexpr std::uint64_t kResolveBeneath =
    RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;

//! An owned file descriptor, closed on destruction. Move-only.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) noexcept : fd_(fd) {}
  Fd(Fd&& o) noexcept : fd_(o.release()) {}
  Fd& operator=(Fd&& o) noexcept {
    if (this != &o) reset(o.release());
    return *this;
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() { reset(); }

  int get() const noexcept { return fd_; }
  explicit operator bool() const noexcept { return fd_ >= 0; }
  int release() noexcept {
    const int f = fd_;
    fd_ = -1;
    return f;
  }
  void reset(int fd = -1) noexcept {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }

 private:
  int fd_ = -1;
};

//! openat2(dirfd, rel, flags | O_CLOEXEC | O_NOCTTY) resolved with
//! kResolveBeneath. rel is relative to dirfd; "" and "." name dirfd itself.
//! Returns the new fd, or -1 with errno set (ELOOP: a symlink on the path;
//! EXDEV: the path leads out of dirfd).
inline int open_beneath(int dirfd, const char* rel, int flags) noexcept {
  struct open_how how;
  std::memset(&how, 0, sizeof how);
  how.flags = static_cast<std::uint64_t>(flags) | O_CLOEXEC | O_NOCTTY;
  how.resolve = kResolveBeneath;
  const char* path = rel == nullptr || *rel == '\0' ? "." : rel;
  // EAGAIN: a rename elsewhere raced a ".." step and the kernel asks to retry.
  // Bounded, so that a rename loop in the tree cannot keep a reader spinning.
  for (int attempt = 0; attempt < 64; ++attempt) {
    const long fd = ::syscall(SYS_openat2, dirfd, path, &how, sizeof how);
    if (fd >= 0) return static_cast<int>(fd);
    if (errno != EINTR && errno != EAGAIN) return -1;
  }
  return -1;
}

//! Words for an errno met while reading a tree, for warnings users read.
inline std::string describe_error(int err) {
  switch (err) {
    case ELOOP:
      return "a symlink is on the path (symlinks in an analysed tree are never followed)";
    case EXDEV:
      return "the path leads outside the analysed tree";
    case ENOENT:
      return "it no longer exists (the tree changed while it was read)";
    case ENOTDIR:
      return "a component of the path is not a directory (the tree changed while it was read)";
    default:
      return std::strerror(err);
  }
}

//! Outcome of reading one file.
enum class ReadStatus {
  kOk,          //!< the whole file is in out
  kTooLarge,    //!< larger than the cap; nothing was read
  kNotRegular,  //!< a directory, FIFO, device or socket; nothing was read
  kError,       //!< could not be opened or read; *err holds the errno
};

//! Reads the regular file open on fd into out (replacing its content). A file
//! whose size is above max_bytes is refused as kTooLarge from fstat, without
//! reading a byte, so a huge or sparse file costs nothing; one that grows
//! meanwhile is read only up to the size fstat gave. err gets the errno of a
//! kError and may be null.
inline ReadStatus read_open_file(int fd, std::uint64_t max_bytes, std::string& out, int* err = nullptr) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    if (err) *err = errno;
    return ReadStatus::kError;
  }
  if (!S_ISREG(st.st_mode)) return ReadStatus::kNotRegular;
  if (static_cast<std::uint64_t>(st.st_size) > max_bytes) return ReadStatus::kTooLarge;
  out.resize(static_cast<std::size_t>(st.st_size));
  std::size_t got = 0;
  while (got < out.size()) {
    const ssize_t n = ::read(fd, out.data() + got, out.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      if (err) *err = errno;
      out.clear();
      return ReadStatus::kError;
    }
    if (n == 0) break;  // shrank since fstat
    got += static_cast<std::size_t>(n);
  }
  out.resize(got);
  return ReadStatus::kOk;
}

//! What a directory entry is, as the listing saw it (symlinks not followed).
enum class EntryType : unsigned char { kFile, kDirectory, kSymlink, kOther };

struct DirEntry {
  std::string name;
  EntryType type = EntryType::kOther;
};

//! A directory tree reached only through its root fd. Cheap to copy; borrows the fd.
class Tree {
 public:
  explicit Tree(int root_fd) noexcept : fd_(root_fd) {}

  //! The borrowed root fd (possibly O_PATH). Do not close it.
  int fd() const noexcept { return fd_; }

  //! open_beneath(fd(), rel, flags); an invalid Fd with errno set on failure.
  Fd open(const std::string& rel, int flags) const noexcept {
    return Fd(open_beneath(fd_, rel.c_str(), flags));
  }

  //! Reads the regular file rel (see read_open_file). Opened non-blocking, so a
  //! FIFO swapped in for a file is refused instead of blocking the reader.
  ReadStatus read_file(const std::string& rel, std::uint64_t max_bytes, std::string& out,
                       int* err = nullptr) const {
    Fd f = open(rel, O_RDONLY | O_NONBLOCK);
    if (!f) {
      if (err) *err = errno;
      return ReadStatus::kError;
    }
    return read_open_file(f.get(), max_bytes, out, err);
  }

  //! The entries of directory rel ("" or "." for the root), without "." and
  //! "..", in readdir order, appended to out. Returns 0, or the errno of the
  //! failure (out then holds what was read before it).
  int list(const std::string& rel, std::vector<DirEntry>& out) const {
    Fd dir = open(rel, O_RDONLY | O_DIRECTORY);
    if (!dir) return errno;
    DIR* d = ::fdopendir(dir.get());
    if (!d) return errno;
    dir.release();  // the DIR owns it now
    int result = 0;
    for (;;) {
      errno = 0;
      const dirent* e = ::readdir(d);
      if (!e) {
        result = errno;
        break;
      }
      if (e->d_name[0] == '.' && (e->d_name[1] == '\0' || (e->d_name[1] == '.' && e->d_name[2] == '\0')))
        continue;
      unsigned char t = e->d_type;
      if (t == DT_UNKNOWN) {  // some file systems do not fill d_type: ask about the name in this directory
        struct stat st {};
        if (::fstatat(::dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) continue;  // gone meanwhile
        t = S_ISDIR(st.st_mode)   ? DT_DIR
            : S_ISREG(st.st_mode) ? DT_REG
            : S_ISLNK(st.st_mode) ? DT_LNK
                                  : DT_UNKNOWN;
      }
      out.push_back({e->d_name, t == DT_REG   ? EntryType::kFile
                                : t == DT_DIR ? EntryType::kDirectory
                                : t == DT_LNK ? EntryType::kSymlink
                                              : EntryType::kOther});
    }
    ::closedir(d);
    return result;
  }

  //! True when fd is an open directory (O_PATH allowed).
  static bool is_directory(int fd) noexcept {
    struct stat st {};
    return fd >= 0 && ::fstat(fd, &st) == 0 && S_ISDIR(st.st_mode);
  }

 private:
  int fd_;
};

}  // namespace isb::sdk
