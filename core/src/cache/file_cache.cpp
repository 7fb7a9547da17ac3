// file_cache.cpp: the size-bounded, TTL-limited LRU cache of files.
// host paths only: the server's cache directory (cache.cache_dir), which only the server writes.
#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <isb/core/file_cache.hpp>
#include <sstream>

namespace isb {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::system_clock;

constexpr std::string_view kPartialSuffix = ".partial";

Clock::time_point to_time(const timespec& ts) {
  return Clock::time_point(std::chrono::duration_cast<Clock::duration>(std::chrono::seconds(ts.tv_sec) +
                                                                       std::chrono::nanoseconds(ts.tv_nsec)));
}

// A file name for key: letters, digits, '-', '_' and '.' as they are (no
// leading dot), every other byte as %XX, so that no key can name a path.
std::string file_name(std::string_view key) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  for (size_t i = 0; i < key.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(key[i]);
    bool plain = std::isalnum(c) || c == '-' || c == '_' || (c == '.' && i > 0);
    if (plain) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out.empty() ? "%" : out;
}

bool make_private_dir(const std::string& dir) {
  std::string prefix;
  for (const auto& part : fs::path(dir).relative_path()) {
    prefix += "/" + part.string();
    if (mkdir(prefix.c_str(), 0700) != 0 && errno != EEXIST) return false;  // host path: the cache dir
  }
  return true;
}

}  // namespace

FileCache::FileCache(FileCacheOptions options) : options_(std::move(options)) {
  std::error_code ec;
  for (const auto& space : fs::directory_iterator(options_.dir, ec)) {
    if (!space.is_directory(ec) || space.is_symlink(ec)) continue;
    for (const auto& file : fs::directory_iterator(space.path(), ec)) {
      const std::string path = file.path().string();
      struct stat st {};
      if (lstat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
      if (path.ends_with(kPartialSuffix)) {  // a write a crash interrupted
        unlink(path.c_str());
        continue;
      }
      entries_[path] = Entry{static_cast<int64_t>(st.st_size), to_time(st.st_mtim), to_time(st.st_atim)};
      total_ += st.st_size;
    }
  }
}

std::string FileCache::path_of(std::string_view space, std::string_view key) const {
  return options_.dir + "/" + file_name(space) + "/" + file_name(key);
}

void FileCache::remove_locked(const std::string& path) {
  auto it = entries_.find(path);
  if (it == entries_.end()) return;
  total_ -= it->second.size;
  entries_.erase(it);
  if (unlink(path.c_str()) != 0 && errno != ENOENT)
    spdlog::warn("cache: cannot remove {}: {}", path, std::strerror(errno));
}

void FileCache::evict_locked(int64_t bound, SweepReport& report) {
  while (total_ > bound && !entries_.empty()) {
    auto oldest = entries_.begin();
    for (auto it = entries_.begin(); it != entries_.end(); ++it) {
      if (it->second.used < oldest->second.used) oldest = it;
    }
    report.bytes_freed += oldest->second.size;
    ++report.evicted;
    ++evicted_;
    remove_locked(std::string(oldest->first));
  }
}

std::optional<std::string> FileCache::get(std::string_view space, std::string_view key) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!options_.enabled) return std::nullopt;
  const std::string path = path_of(space, key);
  auto it = entries_.find(path);
  if (it == entries_.end()) {
    ++misses_;
    return std::nullopt;
  }
  const auto now = Clock::now();
  if (now - it->second.written > options_.ttl) {
    ++expired_;
    ++misses_;
    remove_locked(path);
    return std::nullopt;
  }
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  if (in) text << in.rdbuf();
  if (!in || in.bad()) {
    ++misses_;
    remove_locked(path);
    return std::nullopt;
  }
  it->second.used = now;
  // The last use survives a restart as the atime; the mtime stays the write time.
  const timespec times[2] = {{0, UTIME_NOW}, {0, UTIME_OMIT}};
  (void)utimensat(AT_FDCWD, path.c_str(), times, 0);
  ++hits_;
  return text.str();
}

bool FileCache::put(std::string_view space, std::string_view key, std::string_view data) {
  std::lock_guard<std::mutex> lock(mu_);
  const std::string path = path_of(space, key);
  // What was there describes an older state: it goes whether or not the new one is kept.
  remove_locked(path);
  if (!options_.enabled || static_cast<int64_t>(data.size()) > options_.max_bytes) return false;
  const std::string dir = options_.dir + "/" + file_name(space);
  const std::string partial = path + std::string(kPartialSuffix);
  int fd = -1;
  if (make_private_dir(dir))
    fd = open(partial.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
  bool written = fd >= 0;
  for (size_t off = 0; written && off < data.size();) {
    ssize_t n = write(fd, data.data() + off, data.size() - off);
    if (n < 0 && errno == EINTR) continue;
    written = n > 0;
    off += written ? static_cast<size_t>(n) : 0;
  }
  const int err = errno;
  if (fd >= 0) close(fd);
  if (!written || rename(partial.c_str(), path.c_str()) != 0) {
    spdlog::warn("cache: cannot write {}: {}", path, std::strerror(written ? errno : err));
    unlink(partial.c_str());
    return false;
  }
  const auto now = Clock::now();
  entries_[path] = Entry{static_cast<int64_t>(data.size()), now, now};
  total_ += static_cast<int64_t>(data.size());
  SweepReport ignored;
  evict_locked(options_.max_bytes, ignored);
  return true;
}

FileCache::SweepReport FileCache::sweep() {
  std::lock_guard<std::mutex> lock(mu_);
  SweepReport report;
  const auto now = Clock::now();
  for (auto it = entries_.begin(); it != entries_.end();) {
    auto next = std::next(it);
    if (now - it->second.written > options_.ttl) {
      report.bytes_freed += it->second.size;
      ++report.expired;
      ++expired_;
      remove_locked(std::string(it->first));
    }
    it = next;
  }
  evict_locked(options_.max_bytes, report);
  return report;
}

boost::json::object FileCache::status() const {
  std::lock_guard<std::mutex> lock(mu_);
  return boost::json::object{{"enabled", options_.enabled},
                             {"dir", options_.dir},
                             {"entries", entries_.size()},
                             {"size_bytes", total_},
                             {"max_bytes", options_.max_bytes},
                             {"ttl_s", options_.ttl.count()},
                             {"hits", hits_},
                             {"misses", misses_},
                             {"expired", expired_},
                             {"evicted", evicted_}};
}

}  // namespace isb
