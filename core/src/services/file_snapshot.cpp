// file_snapshot.cpp: a lstat() walk of the workspace and a diff of two walks.
#include "services/file_snapshot.hpp"

#include <boost/json/array.hpp>

#include <sys/stat.h>

#include <algorithm>
#include <filesystem>

namespace fs = std::filesystem;
namespace json = boost::json;

namespace isb::services {

FileSnapshot FileSnapshot::take(const std::string& root, const std::vector<std::string>& skip_top) {
  FileSnapshot snap;
  std::error_code ec;
  fs::recursive_directory_iterator it(root, fs::directory_options::skip_permission_denied, ec), end;
  if (ec) {
    snap.complete_ = false;
    return snap;
  }
  for (; it != end; it.increment(ec)) {
    if (ec) {
      snap.complete_ = false;
      break;
    }
    const fs::path& p = it->path();
    std::string rel = p.lexically_relative(root).generic_string();
    if (it.depth() == 0 && std::find(skip_top.begin(), skip_top.end(), rel) != skip_top.end()) {
      it.disable_recursion_pending();
      continue;
    }
    struct stat st {};
    if (::lstat(p.c_str(), &st) != 0 || S_ISDIR(st.st_mode)) continue;
    if (snap.files_.size() >= kMaxEntries) {
      snap.complete_ = false;
      break;
    }
    snap.files_[rel] = Entry{static_cast<int64_t>(st.st_size),
                             static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec};
  }
  return snap;
}

json::object FileSnapshot::diff_from(const FileSnapshot& before) const {
  json::array added, modified, deleted;
  int64_t n_added = 0, n_modified = 0, n_deleted = 0;
  auto note = [](json::array& list, int64_t& n, const std::string& path) {
    if (list.size() < kMaxListed) list.push_back(json::value(path));
    ++n;
  };
  for (const auto& [path, e] : files_) {
    auto it = before.files_.find(path);
    if (it == before.files_.end()) note(added, n_added, path);
    else if (!(it->second == e)) note(modified, n_modified, path);
  }
  for (const auto& [path, e] : before.files_) {
    if (!files_.count(path)) note(deleted, n_deleted, path);
  }
  return json::object{{"added", std::move(added)},       {"modified", std::move(modified)},
                      {"deleted", std::move(deleted)},   {"added_count", n_added},
                      {"modified_count", n_modified},    {"deleted_count", n_deleted},
                      {"complete", complete_ && before.complete_}};
}

}  // namespace isb::services
