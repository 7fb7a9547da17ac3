// walker.cpp: the two phases of walk_tree: a sequential, sorted directory
// listing that applies the name rules (vcs, vendored, .gitignore), then
// workers that read each candidate once and apply the content rules (size,
// binary, generated) before visiting it.
#include "common/walker.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <system_error>
#include <thread>

#include "common/gitignore.hpp"

namespace isb::analyzer {

namespace fs = std::filesystem;

namespace {

constexpr size_t kMaxSamples = 10;
constexpr size_t kBinaryProbeBytes = 8192;
// A marker of generated code must appear near the top to count.
constexpr size_t kGeneratedProbeBytes = 1024;
// Lines this long are machine output (minified bundles, embedded data).
constexpr size_t kGeneratedLineBytes = 5000;

const std::set<std::string>& vcs_dirs() {
  static const std::set<std::string> s{".git", ".hg", ".svn", ".bzr"};
  return s;
}

const std::set<std::string>& vendored_dirs() {
  static const std::set<std::string> s{"node_modules", "vendor",      "third_party",  "bower_components",
                                       ".venv",        "venv",        "__pycache__",  ".tox",
                                       "dist",         "build",       "target",       ".gradle",
                                       ".idea",        ".mypy_cache", ".pytest_cache"};
  return s;
}

// Lockfiles are written by tools; their lines are not the project's code.
const std::set<std::string>& generated_names() {
  static const std::set<std::string> s{
      "package-lock.json", "npm-shrinkwrap.json", "yarn.lock",   "pnpm-lock.yaml", "bun.lockb",
      "bun.lock",          "Cargo.lock",          "poetry.lock", "uv.lock",        "Pipfile.lock",
      "Gemfile.lock",      "composer.lock",       "go.sum",      "pdm.lock",       "mix.lock",
      "packages.lock.json"};
  return s;
}

bool ends_with(const std::string& s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

bool is_minified_name(const std::string& name) {
  return ends_with(name, ".min.js") || ends_with(name, ".min.css") || ends_with(name, ".min.mjs");
}

bool looks_generated(std::string_view content) {
  std::string_view head = content.substr(0, kGeneratedProbeBytes);
  if (head.find("@generated") != std::string_view::npos) return true;
  size_t cg = head.find("Code generated");
  if (cg != std::string_view::npos && head.find("DO NOT EDIT", cg) != std::string_view::npos) return true;
  size_t start = 0;
  while (start < content.size()) {
    size_t nl = content.find('\n', start);
    size_t end = nl == std::string_view::npos ? content.size() : nl;
    if (end - start > kGeneratedLineBytes) return true;
    start = end + 1;
  }
  return false;
}

enum class Outcome : unsigned char { kAnalysed, kTooLarge, kBinary, kGenerated, kUnreadable };

// Reads a whole regular file, refusing it when larger than max (too_large)
// without reading it. errno-style failures come back as kUnreadable.
Outcome read_file(const std::string& path, std::uint64_t max, std::string& out, std::string& error) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) {
    error = std::strerror(errno);
    return Outcome::kUnreadable;
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    error = "not a regular file";
    ::close(fd);
    return Outcome::kUnreadable;
  }
  if (static_cast<std::uint64_t>(st.st_size) > max) {
    ::close(fd);
    return Outcome::kTooLarge;
  }
  out.resize(static_cast<size_t>(st.st_size));
  size_t got = 0;
  while (got < out.size()) {
    ssize_t n = ::read(fd, out.data() + got, out.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      error = std::strerror(errno);
      ::close(fd);
      return Outcome::kUnreadable;
    }
    if (n == 0) break;  // shrank since fstat
    got += static_cast<size_t>(n);
  }
  out.resize(got);
  ::close(fd);
  return Outcome::kAnalysed;
}

struct Candidate {
  std::string rel;
  std::string abs;
};

class Walker {
 public:
  Walker(const fs::path& root, const WalkOptions& opts, const FileVisitor& visit)
      : root_(root), opts_(opts), visit_(visit) {
    std::string text, error;
    std::error_code ec;
    fs::path gi = root / ".gitignore";
    if (fs::is_regular_file(fs::symlink_status(gi, ec)) &&
        read_file(gi.string(), opts_.max_file_bytes, text, error) == Outcome::kAnalysed) {
      ignore_ = GitIgnore(text);
      for (const auto& p : ignore_.unsupported())
        result_.warnings.push_back(".gitignore: pattern \"" + p + "\" is not supported and was not applied");
    }
  }

  WalkResult run() {
    walk_dir(root_, ".");
    read_all();
    return std::move(result_);
  }

 private:
  // Skips are recorded with their path and sorted at the end, so that samples
  // do not depend on thread timing.
  void skip(SkipReason r, const std::string& rel) {
    ++result_.total;
    ++result_.skipped[r];
    samples_.push_back(rel);
  }

  void walk_dir(const fs::path& abs, const std::string& rel) {
    DirListing& listing = result_.dirs[rel];
    std::vector<fs::directory_entry> entries;
    std::error_code ec;
    for (fs::directory_iterator it(abs, ec), end; !ec && it != end; it.increment(ec)) entries.push_back(*it);
    if (ec) {
      result_.warnings.push_back("cannot list directory " + rel + ": " + ec.message() + " (skipped)");
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
        listing.files.insert(name);
        if (vcs_dirs().count(name)) {  // a ".git" file (worktree or submodule link)
          skip(SkipReason::vcs, child);
        } else if (is_minified_name(name)) {
          skip(SkipReason::vendored, child);
        } else if (ignore_.ignored(child, false)) {
          skip(SkipReason::ignored, child);
        } else if (generated_names().count(name)) {
          skip(SkipReason::generated, child);
        } else if (opts_.want_content && !opts_.want_content(child)) {
          ++result_.total;
          ++result_.analysed;
        } else {
          candidates_.push_back({child, e.path().string()});
        }
      }
    }
  }

  void read_all() {
    const unsigned workers = std::max(1u, std::min<unsigned>(walker_threads(opts_), candidates_.size()));
    result_.workers = workers;
    std::vector<Outcome> outcomes(candidates_.size(), Outcome::kAnalysed);
    std::atomic<size_t> next{0};
    std::mutex warn_mu;
    auto work = [&](unsigned worker) {
      std::string content, error;
      for (size_t i = next.fetch_add(1); i < candidates_.size(); i = next.fetch_add(1)) {
        const Candidate& c = candidates_[i];
        Outcome o = read_file(c.abs, opts_.max_file_bytes, content, error);
        if (o == Outcome::kAnalysed) {
          std::string_view view(content);
          if (view.substr(0, kBinaryProbeBytes).find('\0') != std::string_view::npos)
            o = Outcome::kBinary;
          else if (looks_generated(view))
            o = Outcome::kGenerated;
          else
            visit_(worker, c.rel, view);
        } else if (o == Outcome::kUnreadable) {
          std::lock_guard lock(warn_mu);
          result_.warnings.push_back("cannot read " + c.rel + ": " + error + " (skipped)");
        }
        outcomes[i] = o;
      }
    };
    std::vector<std::thread> pool;
    for (unsigned w = 1; w < workers; ++w) pool.emplace_back(work, w);
    work(0);
    for (auto& t : pool) t.join();

    for (size_t i = 0; i < candidates_.size(); ++i) {
      switch (outcomes[i]) {
        case Outcome::kAnalysed:
          ++result_.total;
          ++result_.analysed;
          break;
        case Outcome::kTooLarge:
          skip(SkipReason::too_large, candidates_[i].rel);
          break;
        case Outcome::kBinary:
          skip(SkipReason::binary, candidates_[i].rel);
          break;
        case Outcome::kGenerated:
          skip(SkipReason::generated, candidates_[i].rel);
          break;
        case Outcome::kUnreadable:
          break;  // a warning, not an entry
      }
    }
    std::sort(samples_.begin(), samples_.end());
    if (samples_.size() > kMaxSamples) samples_.resize(kMaxSamples);
    result_.skipped_samples = std::move(samples_);
    std::sort(result_.warnings.begin(), result_.warnings.end());
  }

  fs::path root_;
  WalkOptions opts_;
  const FileVisitor& visit_;
  GitIgnore ignore_;
  WalkResult result_;
  std::vector<Candidate> candidates_;
  std::vector<std::string> samples_;
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
    case SkipReason::vcs:
      return "vcs";
    case SkipReason::vendored:
      return "vendored";
    case SkipReason::generated:
      return "generated";
    case SkipReason::binary:
      return "binary";
    case SkipReason::too_large:
      return "too_large";
    case SkipReason::ignored:
      return "ignored";
  }
  return "unknown";
}

unsigned walker_threads(const WalkOptions& options) {
  if (options.threads > 0) return options.threads;
  return std::max(1u, std::thread::hardware_concurrency());
}

WalkResult walk_tree(const fs::path& root, const WalkOptions& options, const FileVisitor& visit) {
  return Walker(root, options, visit).run();
}

}  // namespace isb::analyzer
