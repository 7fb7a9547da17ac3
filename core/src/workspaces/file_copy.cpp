// file_copy.cpp: bounded-memory copy, compare and data-segment walk.
#include "workspaces/file_copy.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

namespace isb::workspaces {

namespace {

constexpr size_t kCopyChunk = 1 << 20;
constexpr size_t kCompareChunk = 256 << 10;

Error io_error(const std::string& what, const std::string& rel) {
  return make_error(ErrorCode::kUnavailable, "cannot " + what + " '" + rel + "': " + std::strerror(errno));
}

// Reads exactly len bytes at off (fewer only at end of file).
ssize_t pread_full(int fd, char* buf, size_t len, off_t off) {
  size_t got = 0;
  while (got < len) {
    ssize_t n = ::pread(fd, buf + got, len - got, off + static_cast<off_t>(got));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return -1;
    if (n == 0) break;
    got += static_cast<size_t>(n);
  }
  return static_cast<ssize_t>(got);
}

}  // namespace

Status for_each_data_segment(int fd, int64_t size, const std::function<Status(int64_t, int64_t)>& fn) {
  int64_t pos = 0;
  while (pos < size) {
    off_t data = ::lseek(fd, pos, SEEK_DATA);
    if (data < 0) {
      if (errno == ENXIO) return ok_status();  // only a hole from pos to the end
      // No SEEK_DATA here: one segment from pos.
      return fn(pos, size - pos);
    }
    if (data >= size) return ok_status();
    off_t hole = ::lseek(fd, data, SEEK_HOLE);
    if (hole < 0 || hole > size) hole = size;
    if (auto st = fn(data, hole - data); !st) return st;
    pos = hole;
  }
  return ok_status();
}

Status copy_sparse(int in, int out, const std::string& rel) {
  struct stat st;
  if (::fstat(in, &st) < 0) return io_error("stat", rel);
  bool kernel_copy = true;
  std::vector<char> buf;
  auto copy_segment = [&](int64_t off, int64_t len) -> Status {
    while (len > 0) {
      ssize_t n = -1;
      if (kernel_copy) {
        loff_t src = off, dst = off;
        n = ::copy_file_range(in, &src, out, &dst, static_cast<size_t>(std::min<int64_t>(len, 1 << 30)), 0);
        if (n < 0 && (errno == EXDEV || errno == EINVAL || errno == ENOSYS || errno == EOPNOTSUPP)) {
          kernel_copy = false;
          continue;
        }
      } else {
        if (buf.empty()) buf.resize(kCopyChunk);
        n = pread_full(in, buf.data(), static_cast<size_t>(std::min<int64_t>(len, kCopyChunk)), off);
        for (ssize_t done = 0; n > 0 && done < n;) {
          ssize_t w = ::pwrite(out, buf.data() + done, static_cast<size_t>(n - done), off + done);
          if (w < 0 && errno == EINTR) continue;
          if (w < 0) return io_error("write", rel);
          done += w;
        }
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return io_error("copy", rel);
      if (n == 0) return ok_status();  // the file shrank while we copied
      off += n;
      len -= n;
    }
    return ok_status();
  };
  if (auto s = for_each_data_segment(in, st.st_size, copy_segment); !s) return s;
  // A trailing hole is a length, not data: the size says it.
  if (::ftruncate(out, st.st_size) < 0) return io_error("size", rel);
  return ok_status();
}

Result<std::string> read_capped(int fd, int64_t cap, const std::string& rel) {
  struct stat st;
  if (::fstat(fd, &st) < 0) return io_error("stat", rel);
  if (!S_ISREG(st.st_mode)) return make_error(ErrorCode::kInvalidArgument, "'" + rel + "' is not a regular file");
  if (st.st_size > cap) {
    return make_error(ErrorCode::kResourceExhausted, "'" + rel + "' is " + std::to_string(st.st_size) +
                                                         " bytes, over the " + std::to_string(cap) +
                                                         " bytes read whole here");
  }
  std::string data(static_cast<size_t>(st.st_size), '\0');
  ssize_t n = pread_full(fd, data.data(), data.size(), 0);
  if (n < 0) return io_error("read", rel);
  data.resize(static_cast<size_t>(n));  // shrank since fstat
  return data;
}

Result<bool> same_content(int a, int b) {
  struct stat sa, sb;
  if (::fstat(a, &sa) < 0 || ::fstat(b, &sb) < 0) {
    return make_error(ErrorCode::kUnavailable, std::string("cannot stat a file to compare: ") + std::strerror(errno));
  }
  if (sa.st_size != sb.st_size) return false;
  std::vector<char> x(kCompareChunk), y(kCompareChunk);
  for (off_t off = 0;;) {
    ssize_t n = pread_full(a, x.data(), x.size(), off);
    ssize_t m = pread_full(b, y.data(), y.size(), off);
    if (n < 0 || m < 0) {
      return make_error(ErrorCode::kUnavailable, std::string("cannot read a file to compare: ") + std::strerror(errno));
    }
    if (n != m || std::memcmp(x.data(), y.data(), static_cast<size_t>(n)) != 0) return false;
    if (n == 0) return true;
    off += n;
  }
}

}  // namespace isb::workspaces
