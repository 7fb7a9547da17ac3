// file_cache.hpp: the server's cache (sandbox.yaml "cache"): entries kept as
// files under cache.cache_dir, each valid for cache.ttl seconds after it was
// written, the least recently used evicted when the total passes
// cache.max_size_mb, and a sweep every cache.cleanup_interval that removes both.
//
// Every cache the server keeps goes through one FileCache, in its own space
// (a subdirectory): the analysis cache ("analysis", keyed by workspace id) is
// the one there is today. Entries survive a restart: the write time is the
// file's mtime, the last use its atime, set explicitly on every hit (so
// noatime mounts do not matter).
//
//   FileCache cache({.dir = cfg.cache_dir(), .enabled = cfg.cache.enabled,
//                    .max_bytes = cfg.cache.max_size_mb << 20, .ttl = std::chrono::seconds(cfg.cache.ttl)});
//   cache.put("analysis", "ws1", text);
//   if (auto hit = cache.get("analysis", "ws1")) ...;
//   cache.sweep();                               // from a timer
//
// Thread-safety: every member is safe from any thread (one mutex; file reads
// and writes happen under it, entries are small documents).
#pragma once

#include <boost/json/object.hpp>
#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

namespace isb {

struct FileCacheOptions {
  std::string dir;              //!< created (0700) on the first write
  bool enabled = true;          //!< false: get() misses, put() stores nothing
  int64_t max_bytes = 0;        //!< total size bound; 0 keeps nothing
  std::chrono::seconds ttl{0};  //!< an entry older than this is not used
};

class FileCache {
 public:
  //! What one sweep removed.
  struct SweepReport {
    size_t expired = 0;
    size_t evicted = 0;
    int64_t bytes_freed = 0;
  };

  //! Indexes the entries a previous run left in options.dir.
  explicit FileCache(FileCacheOptions options);

  //! The entry's bytes when it exists and is younger than the ttl; marks it
  //! used. An expired entry is removed.
  std::optional<std::string> get(std::string_view space, std::string_view key);

  //! Writes the entry (whole, by rename), then evicts the least recently used
  //! entries until the total fits. false when not stored: disabled, larger
  //! than max_bytes, or the write failed (logged; a cache write failing costs
  //! speed, never correctness).
  bool put(std::string_view space, std::string_view key, std::string_view data);

  //! Removes expired entries, then the least recently used past max_bytes.
  SweepReport sweep();

  //! {"enabled","dir","entries","size_bytes","max_bytes","ttl_s","hits","misses","expired","evicted"}
  boost::json::object status() const;

 private:
  struct Entry {
    int64_t size = 0;
    std::chrono::system_clock::time_point written;
    std::chrono::system_clock::time_point used;
  };
  std::string path_of(std::string_view space, std::string_view key) const;
  void remove_locked(const std::string& path);
  void evict_locked(int64_t bound, SweepReport& report);

  FileCacheOptions options_;
  mutable std::mutex mu_;
  std::map<std::string, Entry> entries_;  // by file path
  int64_t total_ = 0;
  uint64_t hits_ = 0, misses_ = 0, expired_ = 0, evicted_ = 0;
};

}  // namespace isb
