// walker.hpp: walks a source tree once, classifying every entry as analysed or
// skipped (vcs, vendored, generated, binary, too_large, ignored), and hands the
// content of each analysed file to a visitor from a small pool of threads.
//
//   WalkOptions o;                     // threads = 0: one per core
//   WalkResult r = walk_tree(tree, o, [&](unsigned worker, const std::string& rel, std::string_view text) {
//     per_worker[worker].add(rel, text);  // no locking: each worker has its own slot
//   });
//
// The directory listing is sequential and sorted (so results never depend on
// timing) and feeds a bounded queue that the workers drain while it goes on:
// reading and visiting files, the expensive part, runs on `threads` workers,
// and memory stays bounded whatever the number of files (see keep_listing).
//
// Ignore rules are git's: .gitignore files at every level, .git/info/exclude,
// and the linguist-vendored / linguist-generated attributes of .gitattributes
// files (common/gitignore.hpp).
//
// The tree is reached only through its root fd (isb::sdk::Tree): every
// directory listed and every file read is opened beneath it with
// openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS), so a
// directory that sandboxed code swaps for a symlink mid-walk is refused (a
// warning), never followed out of the tree.
#pragma once

#include <cstdint>
#include <functional>
#include <isb/sdk/tree.hpp>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace isb::analyzer {

//! Why an entry was not analysed. Whole directories count as one entry.
enum class SkipReason { vcs, vendored, generated, binary, too_large, ignored };
inline constexpr SkipReason kAllSkipReasons[] = {SkipReason::vcs,       SkipReason::vendored,
                                                 SkipReason::generated, SkipReason::binary,
                                                 SkipReason::too_large, SkipReason::ignored};

//! Called on a worker thread with an analysed file's relative path ("a/b.py")
//! and content; worker < WalkResult::workers, and one worker never runs two
//! calls at once.
using FileVisitor =
    std::function<void(unsigned worker, const std::string& rel_path, std::string_view content)>;

struct WalkOptions {
  std::uint64_t max_file_bytes = 4ull * 1024 * 1024;
  //! Worker threads for reading; 0 means one per hardware thread.
  unsigned threads = 0;
  //! When set, only files it accepts (by relative path) are read and visited;
  //! the others count as analysed without being opened. Used by analyzers that
  //! need a few manifests rather than every line of code. Lockfiles (counted
  //! as generated) are read and visited only when it accepts them.
  std::function<bool(const std::string& rel_path)> want_content;
  //! Whether WalkResult::dirs records every directory and file name. Project
  //! detection needs it; statistics do not, and without it a walk's memory
  //! does not grow with the number of files.
  bool keep_listing = true;
};

//! What one walked directory holds: every regular file (also those skipped
//! for their content or as lockfiles, so that project detection sees them)
//! and the subdirectories that were descended into.
struct DirListing {
  std::set<std::string> files;
  std::set<std::string> subdirs;
};

struct WalkResult {
  std::uint64_t total = 0;     // analysed + skipped entries
  std::uint64_t analysed = 0;  // files kept (read and visited, or accepted unread)
  std::map<SkipReason, std::uint64_t> skipped;
  std::vector<std::string> skipped_samples;  // first 10 in path order; directories end in "/"
  //! Every directory walked, by relative path ("." for the root); empty unless keep_listing.
  std::map<std::string, DirListing> dirs;
  std::vector<std::string> warnings;
  unsigned workers = 1;
};

//! Joins a relative directory ("." for the root) and a name.
std::string join_rel(const std::string& dir, const std::string& name);
//! The parent of a relative path ("." for top-level entries).
std::string parent_rel(const std::string& rel);
//! The last component of a relative path.
std::string base_name(const std::string& rel);

const char* skip_reason_name(SkipReason r);

//! The number of workers walk_tree will use for these options.
unsigned walker_threads(const WalkOptions& options);

//! Walks the tree; symlinks are never followed, so loops and links leading
//! outside the tree are never entered. Non-UTF-8 names and contents are
//! handled as bytes.
WalkResult walk_tree(const sdk::Tree& tree, const WalkOptions& options, const FileVisitor& visit);

}  // namespace isb::analyzer
