// walker.hpp: walks a source tree once, classifying every entry as analysed or
// skipped (vcs, vendored, binary, too_large, ignored), and hands the content of
// each analysed file to a visitor.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace isb::analyzer::codebase {

//! Why an entry was not analysed. Whole directories count as one entry.
enum class SkipReason { vcs, vendored, binary, too_large, ignored };

struct WalkOptions {
  std::uint64_t max_file_bytes = 4ull * 1024 * 1024;
};

//! What one walked directory holds (entries that were not skipped).
struct DirListing {
  std::set<std::string> files;
  std::set<std::string> subdirs;
};

struct WalkResult {
  std::uint64_t total = 0;     // analysed + skipped entries
  std::uint64_t analysed = 0;  // files read and handed to the visitor
  std::map<SkipReason, std::uint64_t> skipped;
  std::vector<std::string> skipped_samples;  // first 10, walk order; directories end in "/"
  //! Every directory walked, by relative path ("." for the root).
  std::map<std::string, DirListing> dirs;
  std::vector<std::string> warnings;
};

//! Called once per analysed file with its relative path ("a/b.py") and content.
using FileVisitor = std::function<void(const std::string& rel_path, const std::string& content)>;

//! Joins a relative directory ("." for the root) and a name.
std::string join_rel(const std::string& dir, const std::string& name);
//! The parent of a relative path ("." for top-level entries).
std::string parent_rel(const std::string& rel);
//! The last component of a relative path.
std::string base_name(const std::string& rel);

const char* skip_reason_name(SkipReason r);

//! Walks root (an existing directory); symlinks are never followed.
WalkResult walk_tree(const std::filesystem::path& root, const WalkOptions& options, const FileVisitor& visit);

}  // namespace isb::analyzer::codebase
