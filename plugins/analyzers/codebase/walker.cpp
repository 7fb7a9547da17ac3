#include "walker.hpp"

#include <algorithm>
#include <fstream>
#include <string_view>
#include <system_error>

#include "gitignore.hpp"

namespace isb::analyzer::codebase {

namespace fs = std::filesystem;

namespace {

constexpr size_t kMaxSamples = 10;
constexpr size_t kBinaryProbeBytes = 8192;

const std::set<std::string>& vcs_dirs() {
  static const std::set<std::string> s{".git", ".hg", ".svn"};
  return s;
}

const std::set<std::string>& vendored_dirs() {
  static const std::set<std::string> s{"node_modules", "vendor", "third_party", ".venv", "venv",  "__pycache__",
                                       ".tox",         "dist",   "build",       "target", ".gradle", ".idea"};
  return s;
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

bool read_file(const fs::path& p, std::string& out) {
  std::ifstream in(p, std::ios::binary);
  if (!in) return false;
  in.seekg(0, std::ios::end);
  std::streamoff size = in.tellg();
  if (size < 0) return false;
  in.seekg(0, std::ios::beg);
  out.resize(static_cast<size_t>(size));
  if (size > 0) in.read(out.data(), size);
  out.resize(static_cast<size_t>(in.gcount() > 0 ? in.gcount() : 0));
  return true;
}

class Walker {
 public:
  Walker(const fs::path& root, const WalkOptions& opts, const FileVisitor& visit)
      : root_(root), opts_(opts), visit_(visit) {
    std::string text;
    std::error_code ec;
    fs::path gi = root / ".gitignore";
    if (fs::is_regular_file(fs::symlink_status(gi, ec)) && read_file(gi, text)) {
      ignore_ = GitIgnore(text);
      for (const auto& p : ignore_.unsupported())
        result_.warnings.push_back(".gitignore: pattern \"" + p + "\" is not supported and was not applied");
    }
  }

  WalkResult run() {
    walk_dir(root_, ".");
    return std::move(result_);
  }

 private:
  void skip(SkipReason r, const std::string& rel) {
    ++result_.total;
    ++result_.skipped[r];
    if (result_.skipped_samples.size() < kMaxSamples) result_.skipped_samples.push_back(rel);
  }

  void walk_dir(const fs::path& abs, const std::string& rel) {
    DirListing& listing = result_.dirs[rel];
    std::vector<fs::directory_entry> entries;
    std::error_code ec;
    for (fs::directory_iterator it(abs, ec), end; !ec && it != end; it.increment(ec)) entries.push_back(*it);
    if (ec) {
      result_.warnings.push_back("cannot list directory " + rel + ": " + ec.message());
      return;
    }
    std::sort(entries.begin(), entries.end(),
              [](const auto& a, const auto& b) { return a.path().filename() < b.path().filename(); });
    for (const auto& e : entries) {
      const std::string name = e.path().filename().string();
      const std::string child = join_rel(rel, name);
      std::error_code sec;
      fs::file_status st = e.symlink_status(sec);
      if (sec || fs::is_symlink(st)) continue;  // never followed, not counted
      if (fs::is_directory(st)) {
        if (vcs_dirs().count(name)) {
          skip(SkipReason::vcs, child + "/");
        } else if (vendored_dirs().count(name)) {
          skip(SkipReason::vendored, child + "/");
        } else if (ignore_.ignored(child, true)) {
          skip(SkipReason::ignored, child + "/");
        } else {
          listing.subdirs.insert(name);
          walk_dir(e.path(), child);
        }
      } else if (fs::is_regular_file(st)) {
        visit_file(e, name, child, listing);
      }
    }
  }

  void visit_file(const fs::directory_entry& e, const std::string& name, const std::string& rel,
                  DirListing& listing) {
    if (vcs_dirs().count(name)) {  // a ".git" file (worktree or submodule link)
      skip(SkipReason::vcs, rel);
      return;
    }
    if (ends_with(name, ".min.js")) {
      skip(SkipReason::vendored, rel);
      return;
    }
    if (ignore_.ignored(rel, false)) {
      skip(SkipReason::ignored, rel);
      return;
    }
    std::error_code ec;
    std::uintmax_t size = e.file_size(ec);
    if (!ec && size > opts_.max_file_bytes) {
      skip(SkipReason::too_large, rel);
      return;
    }
    std::string content;
    if (!read_file(e.path(), content)) {
      result_.warnings.push_back("cannot read " + rel);
      return;
    }
    if (content.size() > opts_.max_file_bytes) {  // grew since stat
      skip(SkipReason::too_large, rel);
      return;
    }
    if (std::string_view(content).substr(0, kBinaryProbeBytes).find('\0') != std::string_view::npos) {
      skip(SkipReason::binary, rel);
      return;
    }
    ++result_.total;
    ++result_.analysed;
    listing.files.insert(name);
    visit_(rel, content);
  }

  fs::path root_;
  WalkOptions opts_;
  const FileVisitor& visit_;
  GitIgnore ignore_;
  WalkResult result_;
};

}  // namespace

std::string join_rel(const std::string& dir, const std::string& name) {
  if (dir.empty() || dir == ".") return name;
  return dir + "/" + name;
}

std::string parent_rel(const std::string& rel) {
  size_t slash = rel.rfind('/');
  return slash == std::string::npos ? "." : rel.substr(0, slash);
}

std::string base_name(const std::string& rel) {
  size_t slash = rel.rfind('/');
  return slash == std::string::npos ? rel : rel.substr(slash + 1);
}

const char* skip_reason_name(SkipReason r) {
  switch (r) {
    case SkipReason::vcs: return "vcs";
    case SkipReason::vendored: return "vendored";
    case SkipReason::binary: return "binary";
    case SkipReason::too_large: return "too_large";
    case SkipReason::ignored: return "ignored";
  }
  return "unknown";
}

WalkResult walk_tree(const fs::path& root, const WalkOptions& options, const FileVisitor& visit) {
  return Walker(root, options, visit).run();
}

}  // namespace isb::analyzer::codebase
