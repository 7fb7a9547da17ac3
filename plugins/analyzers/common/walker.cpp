// walker.cpp: walk_tree: a sequential, sorted directory listing that applies
// the name rules (vcs, vendored, git's ignore rules and linguist attributes)
// and feeds a bounded queue, and workers that read each queued file once and
// apply the content rules (size, binary, generated) before visiting it. Every
// directory and file is opened beneath the tree's root fd (sdk::Tree), by its
// path relative to the root, never through a path string of the host's.
#include "common/walker.hpp"

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <optional>
#include <thread>

#include "common/gitignore.hpp"

namespace isb::analyzer {

namespace {

constexpr size_t kMaxSamples = 10;
constexpr size_t kBinaryProbeBytes = 8192;
// A marker of generated code must appear near the top to count.
constexpr size_t kGeneratedProbeBytes = 1024;
// Lines this long are machine output (minified bundles, embedded data).
constexpr size_t kGeneratedLineBytes = 5000;
// Files listed but not read yet. Bounds the walk's memory; when it is full the
// listing thread reads a file itself instead of waiting.
constexpr size_t kQueueCapacity = 4096;

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
  // A line over kGeneratedLineBytes: each window of that size from a line
  // start must hold a newline; jumping to the window's last newline looks at
  // every byte once in a few calls instead of one search per line.
  const char* p = content.data();
  const char* const end = p + content.size();
  while (static_cast<size_t>(end - p) > kGeneratedLineBytes) {
    const void* nl = ::memrchr(p, '\n', kGeneratedLineBytes + 1);
    if (!nl) return true;
    p = static_cast<const char*>(nl) + 1;
  }
  return false;
}

enum class Outcome : unsigned char { kAnalysed, kTooLarge, kBinary, kGenerated, kUnreadable };

// Reads the whole regular file rel, refusing it when larger than max
// (too_large) without reading it. Failures come back as kUnreadable with words
// for the user in error.
Outcome read_file(const sdk::Tree& tree, const std::string& rel, std::uint64_t max, std::string& out,
                  std::string& error) {
  int err = 0;
  switch (tree.read_file(rel, max, out, &err)) {
    case sdk::ReadStatus::kOk:
      return Outcome::kAnalysed;
    case sdk::ReadStatus::kTooLarge:
      return Outcome::kTooLarge;
    case sdk::ReadStatus::kNotRegular:
      error = "not a regular file";
      return Outcome::kUnreadable;
    case sdk::ReadStatus::kError:
      break;
  }
  error = sdk::describe_error(err);
  return Outcome::kUnreadable;
}

// The smallest kMaxSamples paths seen: samples are the first skipped paths in
// path order, whatever order workers finish in.
class Samples {
 public:
  void add(std::string path) {
    if (set_.size() == kMaxSamples && !(path < *set_.rbegin())) return;
    set_.insert(std::move(path));
    if (set_.size() > kMaxSamples) set_.erase(std::prev(set_.end()));
  }
  void merge(const Samples& o) {
    for (const auto& s : o.set_) add(s);
  }
  std::vector<std::string> sorted() const { return {set_.begin(), set_.end()}; }

 private:
  std::set<std::string> set_;
};

struct Candidate {
  std::string rel;
  bool lockfile = false;         // read for want_content, but counted as generated
  bool never_generated = false;  // -linguist-generated: content rules do not apply
};

// What one reader accumulated; only its own thread touches it.
struct WorkerState {
  std::uint64_t analysed = 0;
  std::map<SkipReason, std::uint64_t> skipped;
  Samples samples;
  std::string content, error;
};

// Reads a small control file (.gitignore, .gitattributes, info/exclude); nullopt when absent or unreadable.
std::optional<std::string> read_control_file(const sdk::Tree& tree, const std::string& rel) {
  std::string text, error;
  if (read_file(tree, rel, 1u << 20, text, error) != Outcome::kAnalysed) return std::nullopt;
  return text;
}

class Walker {
 public:
  Walker(const sdk::Tree& tree, const WalkOptions& opts, const FileVisitor& visit)
      : tree_(tree), opts_(opts), visit_(visit), states_(walker_threads(opts)) {
    // $GIT_DIR/info/exclude and info/attributes apply to the whole tree. A
    // ".git" file (worktree link) or symlink makes these opens fail: no rules.
    if (auto text = read_control_file(tree_, ".git/info/exclude")) exclude_.emplace(*text, "");
    if (auto text = read_control_file(tree_, ".git/info/attributes"))
      info_attributes_.emplace(*text, "", warnings_, ".git/info/attributes");
  }

  WalkResult run() {
    result_.workers = static_cast<unsigned>(states_.size());
    std::vector<std::thread> pool;
    for (unsigned w = 1; w < states_.size(); ++w) pool.emplace_back([this, w] { work(w); });
    list_dir("", false);
    {
      std::lock_guard lock(mu_);
      done_ = true;
    }
    ready_.notify_all();
    work(0);
    for (auto& t : pool) t.join();

    for (const WorkerState& w : states_) {
      result_.total += w.analysed;
      result_.analysed += w.analysed;
      for (const auto& [r, n] : w.skipped) {
        result_.total += n;
        result_.skipped[r] += n;
      }
      samples_.merge(w.samples);
    }
    result_.skipped_samples = samples_.sorted();
    result_.warnings = std::move(warnings_);
    std::sort(result_.warnings.begin(), result_.warnings.end());
    return std::move(result_);
  }

 private:
  void skip(SkipReason r, std::string path) {
    ++result_.total;
    ++result_.skipped[r];
    samples_.add(std::move(path));
  }

  void warn(std::string w) {
    std::lock_guard lock(warn_mu_);
    warnings_.push_back(std::move(w));
  }

  bool ignored(const std::string& rel, bool is_dir) const {
    // The nearest .gitignore decides first, then the enclosing ones, then info/exclude.
    for (auto it = ignores_.rbegin(); it != ignores_.rend(); ++it) {
      auto v = it->match(rel, is_dir);
      if (v != IgnoreRules::Verdict::kNone) return v == IgnoreRules::Verdict::kIgnored;
    }
    return exclude_ && exclude_->match(rel, is_dir) == IgnoreRules::Verdict::kIgnored;
  }

  LinguistAttributes::Values attributes(const std::string& rel) const {
    LinguistAttributes::Values v;
    for (const auto& a : attributes_) a.apply(rel, v);  // root first: deeper files override
    if (info_attributes_) info_attributes_->apply(rel, v);
    return v;
  }

  bool unvendoring() const {
    if (info_attributes_ && info_attributes_->unvendors()) return true;
    return std::any_of(attributes_.begin(), attributes_.end(), [](const auto& a) { return a.unvendors(); });
  }

  // in_vendored: a vendored directory entered only because .gitattributes
  // un-vendors some paths; its files count as vendored unless un-vendored, and
  // nothing in it is listed for project detection.
  void list_dir(const std::string& rel, bool in_vendored) {
    const std::string shown = rel.empty() ? "." : rel;
    std::vector<sdk::DirEntry> entries;
    // Opened beneath the root by its relative path: a directory swapped for a
    // symlink since its parent was listed fails here (ELOOP), never leads out.
    if (int err = tree_.list(shown, entries)) {
      warn("cannot list directory " + shown + ": " + sdk::describe_error(err) + " (skipped)");
      return;
    }
    std::sort(entries.begin(), entries.end(), [](const auto& a, const auto& b) { return a.name < b.name; });

    // This directory's own rules apply to its entries and everything below.
    auto has_regular = [&](const char* n) {
      return std::any_of(entries.begin(), entries.end(),
                         [&](const auto& e) { return e.name == n && e.type == sdk::EntryType::kFile; });
    };
    const bool own_ignore = has_regular(".gitignore");
    const bool own_attributes = has_regular(".gitattributes");
    const std::string ignore_file = rel.empty() ? ".gitignore" : rel + "/.gitignore";
    const std::string attributes_file = rel.empty() ? ".gitattributes" : rel + "/.gitattributes";
    if (own_ignore) ignores_.emplace_back(read_control_file(tree_, ignore_file).value_or(""), rel);
    if (own_attributes) {
      std::vector<std::string> problems;  // workers may be warning meanwhile: added under the lock
      attributes_.emplace_back(read_control_file(tree_, attributes_file).value_or(""), rel, problems,
                               attributes_file);
      for (auto& p : problems) warn(std::move(p));
    }
    const bool have_attributes = !attributes_.empty() || info_attributes_;

    DirListing* listing = opts_.keep_listing && !in_vendored ? &result_.dirs[shown] : nullptr;
    for (const auto& [name, type] : entries) {
      const std::string child = rel.empty() ? name : rel + "/" + name;
      if (type == sdk::EntryType::kDirectory) {
        const bool vendored_name = vendored_dirs().count(name) > 0;
        if (vcs_dirs().count(name)) {
          skip(SkipReason::vcs, child + "/");
        } else if ((vendored_name || in_vendored) && !unvendoring()) {
          skip(SkipReason::vendored, child + "/");
        } else if (ignored(child, true)) {
          skip(SkipReason::ignored, child + "/");
        } else {
          const bool vendored = in_vendored || vendored_name;
          if (listing && !vendored) listing->subdirs.insert(name);
          list_dir(child, vendored);
        }
      } else if (type == sdk::EntryType::kFile) {
        if (listing) listing->files.insert(name);
        const LinguistAttributes::Values attrs =
            have_attributes ? attributes(child) : LinguistAttributes::Values{};
        if (vcs_dirs().count(name)) {  // a ".git" file (worktree or submodule link)
          skip(SkipReason::vcs, child);
        } else if (attrs.vendored.value_or(in_vendored || is_minified_name(name))) {
          skip(SkipReason::vendored, child);
        } else if (ignored(child, false)) {
          skip(SkipReason::ignored, child);
        } else if (attrs.generated == true) {
          skip(SkipReason::generated, child);
        } else if (generated_names().count(name) && attrs.generated != false) {
          // A lockfile is not the project's code, but its content is a fact
          // for analyzers that ask for it (want_content): read it, count it generated.
          if (opts_.want_content && opts_.want_content(child))
            push({child, true, false});
          else
            skip(SkipReason::generated, child);
        } else if (opts_.want_content && !opts_.want_content(child)) {
          ++result_.total;
          ++result_.analysed;
        } else {
          push({child, false, attrs.generated == false});
        }
      }
      // Symlinks are never followed nor counted; devices, fifos and sockets are not files.
    }
    if (own_ignore) ignores_.pop_back();
    if (own_attributes) attributes_.pop_back();
  }

  void push(Candidate c) {
    std::unique_lock lock(mu_);
    if (queue_.size() >= kQueueCapacity) {
      Candidate mine = std::move(queue_.front());
      queue_.pop_front();
      lock.unlock();
      process(0, mine);  // the listing thread is worker 0
      lock.lock();
    }
    queue_.push_back(std::move(c));
    lock.unlock();
    ready_.notify_one();
  }

  void work(unsigned w) {
    for (;;) {
      Candidate c;
      {
        std::unique_lock lock(mu_);
        ready_.wait(lock, [&] { return !queue_.empty() || done_; });
        if (queue_.empty()) return;
        c = std::move(queue_.front());
        queue_.pop_front();
      }
      process(w, c);
    }
  }

  void process(unsigned w, const Candidate& c) {
    WorkerState& s = states_[w];
    Outcome o = read_file(tree_, c.rel, opts_.max_file_bytes, s.content, s.error);
    if (o == Outcome::kAnalysed) {
      std::string_view view(s.content);
      const bool binary = std::memchr(view.data(), '\0', std::min(view.size(), kBinaryProbeBytes)) != nullptr;
      if (c.lockfile) {
        if (!binary) visit_(w, c.rel, view);  // bun.lockb is binary: counted, not visited
        o = Outcome::kGenerated;
      } else if (binary) {
        o = Outcome::kBinary;
      } else if (!c.never_generated && looks_generated(view)) {
        o = Outcome::kGenerated;
      } else {
        visit_(w, c.rel, view);
      }
    }
    switch (o) {
      case Outcome::kAnalysed:
        ++s.analysed;
        return;
      case Outcome::kTooLarge:
        ++s.skipped[SkipReason::too_large];
        break;
      case Outcome::kBinary:
        ++s.skipped[SkipReason::binary];
        break;
      case Outcome::kGenerated:
        ++s.skipped[SkipReason::generated];
        break;
      case Outcome::kUnreadable:
        warn("cannot read " + c.rel + ": " + s.error + " (skipped)");
        return;  // a warning, not an entry
    }
    s.samples.add(c.rel);
  }

  const sdk::Tree tree_;
  const WalkOptions& opts_;
  const FileVisitor& visit_;
  WalkResult result_;
  Samples samples_;  // the listing's skips
  std::vector<WorkerState> states_;

  // Rules of the directories being listed, outermost first (listing thread only).
  std::vector<IgnoreRules> ignores_;
  std::vector<LinguistAttributes> attributes_;
  std::optional<IgnoreRules> exclude_;
  std::optional<LinguistAttributes> info_attributes_;

  std::mutex mu_;  // guards queue_ and done_
  std::condition_variable ready_;
  std::deque<Candidate> queue_;
  bool done_ = false;

  std::mutex warn_mu_;
  std::vector<std::string> warnings_;
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

WalkResult walk_tree(const sdk::Tree& tree, const WalkOptions& options, const FileVisitor& visit) {
  return Walker(tree, options, visit).run();
}

}  // namespace isb::analyzer
