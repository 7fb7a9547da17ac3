// file_snapshot.cpp: a descriptor walk of the workspace and a diff of two walks.
#include "services/file_snapshot.hpp"

#include "workspaces/safe_path.hpp"

#include <boost/json/array.hpp>

#include <sys/stat.h>

#include <algorithm>

namespace json = boost::json;

namespace isb::services {

FileSnapshot FileSnapshot::take(const std::string& root, const std::vector<std::string>& skip_top) {
  FileSnapshot snap;
  // By descriptor (safe_path's walk): the tree is the sandbox's, and a
  // symlink swapped in for a directory is listed as a link, never entered.
  auto dir = workspaces::BeneathRoot::open(root);
  if (!dir) {
    snap.complete_ = false;
    return snap;
  }
  auto st = workspaces::walk_beneath(dir->fd(), "", [&](const workspaces::WalkEntry& e) {
    if (!snap.complete_) return false;
    if (S_ISDIR(e.st.st_mode)) {
      return e.rel.find('/') != std::string::npos ||
             std::find(skip_top.begin(), skip_top.end(), e.rel) == skip_top.end();
    }
    if (snap.files_.size() >= kMaxEntries) {
      snap.complete_ = false;
      return false;
    }
    snap.files_[e.rel] = Entry{static_cast<int64_t>(e.st.st_size),
                               static_cast<int64_t>(e.st.st_mtim.tv_sec) * 1000000000 + e.st.st_mtim.tv_nsec};
    return false;
  });
  if (!st) snap.complete_ = false;
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
