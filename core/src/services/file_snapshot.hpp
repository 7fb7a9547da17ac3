// file_snapshot.hpp: which files a step added, modified or deleted in the
// workspace, from a cheap listing (path, size, mtime) taken before and after.
// Content changes that keep both size and mtime are not seen; that trade is
// what keeps a snapshot of a large tree to a stat() per file.
//
//   auto before = FileSnapshot::take(root, {".isb"});
//   ... run ...
//   auto changes = FileSnapshot::take(root, {".isb"}).diff_from(before);
//
// Threading: a value type; take() only reads the filesystem.
#pragma once

#include <boost/json/object.hpp>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace isb::services {

class FileSnapshot {
 public:
  //! Stops listing after kMaxEntries files (then complete() is false).
  static constexpr size_t kMaxEntries = 200000;
  //! Names listed per kind of change in a diff (the counts are always exact).
  static constexpr size_t kMaxListed = 200;

  //! Lists regular files and symlinks under root, skipping top-level
  //! directories named in skip_top.
  static FileSnapshot take(const std::string& root, const std::vector<std::string>& skip_top);

  bool complete() const { return complete_; }
  size_t size() const { return files_.size(); }

  //! {"added":[...],"modified":[...],"deleted":[...],"added_count",
  //!  "modified_count","deleted_count","complete"}
  boost::json::object diff_from(const FileSnapshot& before) const;

 private:
  struct Entry {
    int64_t size = 0;
    int64_t mtime_ns = 0;
    bool operator==(const Entry& o) const { return size == o.size && mtime_ns == o.mtime_ns; }
  };
  std::map<std::string, Entry> files_;
  bool complete_ = true;
};

}  // namespace isb::services
