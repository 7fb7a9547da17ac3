// workspace_changes.cpp: the creation manifest, change sets, unified diffs,
// archive export and applying changes to a directory.
#include <isb/core/workspace_changes.hpp>

#include "ids/random_id.hpp"
#include "workspaces/apply_policy.hpp"
#include "workspaces/credentials.hpp"
#include "workspaces/file_copy.hpp"
#include "workspaces/ignore_rules.hpp"
#include "workspaces/overlay_mount.hpp"
#include "workspaces/safe_path.hpp"

#include <boost/json/array.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

namespace fs = std::filesystem;
namespace json = boost::json;

namespace isb {

using workspaces::BeneathRoot;
using workspaces::path_error;
using workspaces::UniqueFd;
using workspaces::WalkEntry;

namespace {

struct ManifestEntry {
  char type = 'f';  // f: file, l: symlink, d: directory
  int64_t mode = 0;
  int64_t size = 0;
  int64_t mtime_ns = 0;
  std::string target;
};

using Manifest = std::map<std::string, ManifestEntry>;

int64_t mtime_ns(const struct stat& st) {
  return static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
}

ManifestEntry entry_of(const WalkEntry& e) {
  ManifestEntry m;
  m.type = S_ISLNK(e.st.st_mode) ? 'l' : S_ISDIR(e.st.st_mode) ? 'd' : 'f';
  m.mode = e.st.st_mode & 07777;
  m.size = e.st.st_size;
  m.mtime_ns = mtime_ns(e.st);
  m.target = e.link_target;
  return m;
}

// Files and symlinks of a tree (directories are implied by their contents).
Result<Manifest> scan(const std::string& root_path) {
  auto root = BeneathRoot::open(root_path);
  if (!root) return root.error();
  Manifest out;
  auto st = workspaces::walk_beneath(root->fd(), "", [&](const WalkEntry& e) {
    if (S_ISREG(e.st.st_mode) || S_ISLNK(e.st.st_mode)) out[e.rel] = entry_of(e);
    return S_ISDIR(e.st.st_mode);
  });
  if (!st) return st.error();
  return out;
}

Result<Manifest> load_manifest(const std::string& path) {
  std::ifstream in(path);  // host path: the manifest in the meta dir
  if (!in) {
    return make_error(ErrorCode::kFailedPrecondition,
                      "the creation manifest " + path +
                          " is missing, so changes cannot be computed (was the workspace created by an older server?)");
  }
  std::stringstream ss;
  ss << in.rdbuf();
  boost::system::error_code ec;
  auto v = json::parse(ss.str(), ec);
  if (ec || !v.is_object() || !v.as_object().contains("entries")) {
    return make_error(ErrorCode::kInternal, "the creation manifest " + path + " is corrupt; recreate the workspace");
  }
  Manifest m;
  for (const auto& row : v.as_object().at("entries").as_array()) {
    const auto& a = row.as_array();
    ManifestEntry e;
    e.type = std::string(a.at(1).as_string())[0];
    e.mode = a.at(2).to_number<int64_t>();
    e.size = a.at(3).to_number<int64_t>();
    e.mtime_ns = a.at(4).to_number<int64_t>();
    e.target = std::string(a.at(5).as_string());
    m[std::string(a.at(0).as_string())] = e;
  }
  return m;
}

// The original of rel in the source, opened only while the source entry
// still matches what the manifest recorded at creation.
Result<UniqueFd> open_original(const BeneathRoot& source, const std::string& rel, const ManifestEntry& m) {
  auto gone = [] {
    return make_error(ErrorCode::kNotFound, "the original is no longer available: the source changed since creation");
  };
  auto fd = source.open_at(rel, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY);
  if (!fd) return gone();
  struct stat st;
  if (::fstat(fd->get(), &st) < 0 || !S_ISREG(st.st_mode) || st.st_size != m.size || mtime_ns(st) != m.mtime_ns) {
    return gone();
  }
  return fd;
}

// Whether rel has the same bytes beneath both roots (regular files, compared
// in chunks: never read whole).
bool same_file(const BeneathRoot& a, const BeneathRoot& b, const std::string& rel) {
  auto fa = a.open_at(rel, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY);
  auto fb = b.open_at(rel, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY);
  if (!fa || !fb) return false;
  auto same = workspaces::same_content(fa->get(), fb->get());
  return same && *same;
}

std::vector<std::string> split_lines(const std::string& s) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos < s.size()) {
    size_t end = s.find('\n', pos);
    if (end == std::string::npos) {
      out.push_back(s.substr(pos) + "\n\\ No newline at end of file");
      break;
    }
    out.push_back(s.substr(pos, end - pos));
    pos = end + 1;
  }
  return out;
}

bool looks_binary(const std::string& s) { return s.find('\0') != std::string::npos; }

}  // namespace

const char* change_kind_name(FileChange::Kind k) {
  switch (k) {
    case FileChange::Kind::kAdded: return "added";
    case FileChange::Kind::kModified: return "modified";
    case FileChange::Kind::kDeleted: return "deleted";
  }
  return "modified";
}

Result<int64_t> record_manifest(const std::string& root, const std::string& manifest_path) {
  auto m = scan(root);
  if (!m) return m.error();
  json::array entries;
  entries.reserve(m->size());
  for (const auto& [path, e] : *m) {
    entries.push_back(json::array{json::value(path), json::value(std::string(1, e.type)), json::value(e.mode),
                                  json::value(e.size), json::value(e.mtime_ns), json::value(e.target)});
  }
  std::error_code ec;
  fs::create_directories(fs::path(manifest_path).parent_path(), ec);  // host path: the meta dir
  const std::string tmp = manifest_path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);  // host path: the manifest in the meta dir
    out << json::serialize(json::object{{"version", 1}, {"entries", std::move(entries)}});
    if (!out) return make_error(ErrorCode::kUnavailable, "cannot write the creation manifest " + tmp);
  }
  fs::rename(tmp, manifest_path, ec);  // host path: the manifest in the meta dir
  if (ec) return make_error(ErrorCode::kUnavailable, "cannot write the creation manifest: " + ec.message());
  return static_cast<int64_t>(m->size());
}

namespace {

Result<std::vector<FileChange>> overlay_changes(const ChangeSources& src) {
  auto up = BeneathRoot::open(src.upper);
  if (!up) return up.error();
  auto low = BeneathRoot::open(src.source);
  if (!low) {
    return make_error(ErrorCode::kFailedPrecondition,
                      "the source " + src.source + " (the overlay's lower layer) is gone; changes cannot be computed");
  }
  const auto ignore = workspaces::IgnoreRules::load(src.source);
  const workspaces::SecretPaths secrets(src.secret_paths);
  std::vector<FileChange> out;
  std::set<std::string> in_upper;
  std::vector<std::string> opaque_dirs;
  // Everything the source has under rel, reported deleted unless the upper layer has it.
  auto delete_lower_tree = [&](const std::string& rel, bool skip_upper) -> Status {
    auto dir = low->open_at(rel, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
    if (!dir) return ok_status();
    return workspaces::walk_beneath(dir->get(), rel, [&](const WalkEntry& e) {
      if (secrets.matches(e.rel) || ignore.ignored(e.rel, S_ISDIR(e.st.st_mode))) return false;
      if ((S_ISREG(e.st.st_mode) || S_ISLNK(e.st.st_mode)) && !(skip_upper && in_upper.count(e.rel))) {
        out.push_back({e.rel, FileChange::Kind::kDeleted, S_ISLNK(e.st.st_mode)});
      }
      return S_ISDIR(e.st.st_mode);
    });
  };
  Status failure = ok_status();
  auto st = workspaces::walk_beneath(up->fd(), "", [&](const WalkEntry& e) {
    if (!failure) return false;
    in_upper.insert(e.rel);
    auto lower = low->lstat(e.rel);
    const bool in_lower = lower.ok();
    if (workspaces::is_whiteout(e.st.st_mode, e.st.st_rdev)) {
      // Whiteouts made at creation hide credentials and ignored entries; they are not deletions.
      if (!in_lower || secrets.matches(e.rel) || ignore.ignored(e.rel, S_ISDIR(lower->st_mode))) return false;
      if (S_ISDIR(lower->st_mode)) {
        failure = delete_lower_tree(e.rel, false);
      } else {
        out.push_back({e.rel, FileChange::Kind::kDeleted, S_ISLNK(lower->st_mode)});
      }
      return false;
    }
    if (S_ISDIR(e.st.st_mode)) {
      if (in_lower && !S_ISDIR(lower->st_mode)) {
        out.push_back({e.rel, FileChange::Kind::kDeleted, S_ISLNK(lower->st_mode)});
      }
      auto fd = up->open_at(e.rel, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
      char v = 0;
      if (fd && ::fgetxattr(fd->get(), "trusted.overlay.opaque", &v, 1) == 1 && v == 'y' && in_lower) {
        opaque_dirs.push_back(e.rel);
      }
      return true;
    }
    if (!S_ISREG(e.st.st_mode) && !S_ISLNK(e.st.st_mode)) return false;
    const bool link = S_ISLNK(e.st.st_mode);
    if (!in_lower || S_ISDIR(lower->st_mode)) {
      out.push_back({e.rel, FileChange::Kind::kAdded, link});
      return false;
    }
    bool changed = (lower->st_mode & S_IFMT) != (e.st.st_mode & S_IFMT) || (lower->st_mode & 07777) != (e.st.st_mode & 07777) ||
                   lower->st_size != e.st.st_size;
    if (!changed && link) {
      auto parent = low->open_parent(e.rel, false);
      char buf[4096];
      ssize_t n = parent ? ::readlinkat(parent->first.get(), parent->second.c_str(), buf, sizeof buf) : -1;
      changed = n < 0 || std::string(buf, static_cast<size_t>(n)) != e.link_target;
    } else if (!changed) {
      // A copy-up (chmod, touch, rewrite with the same bytes) is not a change.
      changed = !same_file(*low, *up, e.rel);
    }
    if (changed) out.push_back({e.rel, FileChange::Kind::kModified, link});
    return false;
  });
  if (!st) return st.error();
  if (!failure) return failure.error();
  for (const auto& d : opaque_dirs) {
    if (auto s = delete_lower_tree(d, true); !s) return s.error();
  }
  std::sort(out.begin(), out.end(), [](const FileChange& a, const FileChange& b) { return a.path < b.path; });
  out.erase(std::unique(out.begin(), out.end(),
                        [](const FileChange& a, const FileChange& b) { return a.path == b.path; }),
            out.end());
  return out;
}

}  // namespace

Result<std::vector<FileChange>> compute_changes(const ChangeSources& src) {
  if (!src.upper.empty()) return overlay_changes(src);
  auto before = load_manifest(src.manifest);
  if (!before) return before.error();
  auto now = scan(src.workspace);
  if (!now) return now.error();
  std::vector<FileChange> out;
  auto source_root = BeneathRoot::open(src.source);
  auto ws_root = BeneathRoot::open(src.workspace);
  for (const auto& [path, cur] : *now) {
    auto it = before->find(path);
    if (it == before->end()) {
      out.push_back({path, FileChange::Kind::kAdded, cur.type == 'l'});
      continue;
    }
    const ManifestEntry& old = it->second;
    bool changed = old.type != cur.type || old.mode != cur.mode || old.size != cur.size || old.target != cur.target;
    if (!changed && old.mtime_ns != cur.mtime_ns && cur.type == 'f') {
      // Touched but maybe not changed: compare contents (in chunks) when
      // the original is still there.
      auto orig = source_root ? open_original(*source_root, path, old) : Result<UniqueFd>(source_root.error());
      auto now_fd = ws_root ? ws_root->open_at(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY)
                            : Result<UniqueFd>(ws_root.error());
      auto same = orig && now_fd ? workspaces::same_content(orig->get(), now_fd->get()) : Result<bool>(false);
      changed = !same || !*same;
    }
    if (changed) out.push_back({path, FileChange::Kind::kModified, cur.type == 'l'});
  }
  for (const auto& [path, old] : *before) {
    if (!now->count(path)) out.push_back({path, FileChange::Kind::kDeleted, old.type == 'l'});
  }
  std::sort(out.begin(), out.end(), [](const FileChange& a, const FileChange& b) { return a.path < b.path; });
  return out;
}

std::string unified_diff(const std::string& old_text, const std::string& new_text, const std::string& path) {
  if (old_text == new_text) return "";
  auto a = split_lines(old_text);
  auto b = split_lines(new_text);
  // Common prefix and suffix are trimmed first, so the quadratic table below
  // only covers the changed region.
  size_t pre = 0;
  while (pre < a.size() && pre < b.size() && a[pre] == b[pre]) ++pre;
  size_t suf = 0;
  while (suf < a.size() - pre && suf < b.size() - pre && a[a.size() - 1 - suf] == b[b.size() - 1 - suf]) ++suf;
  const size_t n = a.size() - pre - suf, m = b.size() - pre - suf;
  // ops: ' ' keep, '-' delete, '+' insert, over the full sequences.
  std::vector<std::pair<char, size_t>> ops;  // (op, index into a or b)
  for (size_t i = 0; i < pre; ++i) ops.emplace_back(' ', i);
  if (n * m <= 4'000'000) {
    std::vector<uint32_t> lcs((n + 1) * (m + 1), 0);
    auto at = [&](size_t i, size_t j) -> uint32_t& { return lcs[i * (m + 1) + j]; };
    for (size_t i = n; i-- > 0;) {
      for (size_t j = m; j-- > 0;) {
        at(i, j) = a[pre + i] == b[pre + j] ? at(i + 1, j + 1) + 1 : std::max(at(i + 1, j), at(i, j + 1));
      }
    }
    size_t i = 0, j = 0;
    while (i < n || j < m) {
      if (i < n && j < m && a[pre + i] == b[pre + j]) {
        ops.emplace_back(' ', pre + i);
        ++i, ++j;
      } else if (i < n && (j == m || at(i + 1, j) >= at(i, j + 1))) {
        ops.emplace_back('-', pre + i++);
      } else {
        ops.emplace_back('+', pre + j++);
      }
    }
  } else {
    // Too large for an exact alignment: the whole region replaced.
    for (size_t i = 0; i < n; ++i) ops.emplace_back('-', pre + i);
    for (size_t j = 0; j < m; ++j) ops.emplace_back('+', pre + j);
  }
  for (size_t i = 0; i < suf; ++i) ops.emplace_back(' ', a.size() - suf + i);

  std::string out = "--- a/" + path + "\n+++ b/" + path + "\n";
  const size_t kContext = 3;
  size_t k = 0;
  while (k < ops.size()) {
    while (k < ops.size() && ops[k].first == ' ') ++k;
    if (k == ops.size()) break;
    size_t start = k >= kContext ? k - kContext : 0;
    // Extend the hunk while the next change is within 2*context lines.
    size_t end = k;
    for (size_t p = k; p < ops.size(); ++p) {
      if (ops[p].first != ' ') end = p;
      else if (p - end > 2 * kContext) break;
    }
    size_t stop = std::min(ops.size(), end + kContext + 1);
    // Line numbers (1-based) of the hunk's first line on each side.
    size_t a_line = 0, b_line = 0;
    for (size_t p = 0; p < start; ++p) {
      if (ops[p].first != '+') ++a_line;
      if (ops[p].first != '-') ++b_line;
    }
    size_t a_len = 0, b_len = 0;
    std::string body;
    for (size_t p = start; p < stop; ++p) {
      const char op = ops[p].first;
      const std::string& text = op == '+' ? b[ops[p].second] : a[ops[p].second];
      if (op != '+') ++a_len;
      if (op != '-') ++b_len;
      body += op;
      body += text;
      body += '\n';
    }
    out += "@@ -" + std::to_string(a_len ? a_line + 1 : a_line) + "," + std::to_string(a_len) + " +" +
           std::to_string(b_len ? b_line + 1 : b_line) + "," + std::to_string(b_len) + " @@\n" + body;
    k = stop;
  }
  return out;
}

Result<json::object> workspace_diff(const ChangeSources& src, const DiffOptions& opts) {
  auto changes = compute_changes(src);
  if (!changes) return changes.error();
  const bool overlay = !src.upper.empty();
  Manifest manifest;
  if (!overlay) {
    auto m = load_manifest(src.manifest);
    if (!m) return m.error();
    manifest = std::move(*m);
  }
  auto ws_root = BeneathRoot::open(src.workspace);
  if (!ws_root) return ws_root.error();
  json::array files;
  int64_t added = 0, modified = 0, deleted = 0, total = 0;
  for (const auto& c : *changes) {
    json::object f{{"path", c.path}, {"status", change_kind_name(c.kind)}, {"type", c.symlink ? "symlink" : "file"}};
    (c.kind == FileChange::Kind::kAdded ? added : c.kind == FileChange::Kind::kDeleted ? deleted : modified)++;
    std::string note;
    std::string old_text, new_text;
    bool have_old = true, have_new = true;
    if (c.symlink) {
      note = "symlink";
      if (overlay) {
        auto low = BeneathRoot::open(src.source);
        auto parent = low ? low->open_parent(c.path, false) : Result<std::pair<UniqueFd, std::string>>(low.error());
        char buf[4096];
        ssize_t n = parent ? ::readlinkat(parent->first.get(), parent->second.c_str(), buf, sizeof buf) : -1;
        if (n >= 0) f["old_target"] = std::string(buf, static_cast<size_t>(n));
      } else if (auto it = manifest.find(c.path); it != manifest.end() && it->second.type == 'l') {
        f["old_target"] = it->second.target;
      }
      if (c.kind != FileChange::Kind::kDeleted) {
        char buf[4096];
        auto parent = ws_root->open_parent(c.path, false);
        ssize_t n = parent ? ::readlinkat(parent->first.get(), parent->second.c_str(), buf, sizeof buf) : -1;
        if (n >= 0) f["target"] = std::string(buf, static_cast<size_t>(n));
      }
      files.push_back(std::move(f));
      continue;
    }
    if (c.kind != FileChange::Kind::kAdded) {
      Result<std::string> orig = make_error(ErrorCode::kNotFound, "");
      if (overlay) {
        auto low = BeneathRoot::open(src.source);
        orig = low ? low->read_small(c.path, opts.max_diff_input_bytes) : Result<std::string>(low.error());
      } else {
        auto low = BeneathRoot::open(src.source);
        auto fd = low ? open_original(*low, c.path, manifest.at(c.path)) : Result<UniqueFd>(low.error());
        orig = fd ? workspaces::read_capped(fd->get(), opts.max_diff_input_bytes, c.path) : Result<std::string>(fd.error());
      }
      if (orig) old_text = std::move(*orig);
      else {
        have_old = false;
        note = orig.error().code == ErrorCode::kResourceExhausted
                   ? "file too large for a line diff"
                   : "the original is no longer available: the source changed since the workspace was created";
      }
    }
    if (c.kind != FileChange::Kind::kDeleted) {
      auto cur = ws_root->read_small(c.path, opts.max_diff_input_bytes);
      if (cur) new_text = std::move(*cur);
      else {
        have_new = false;
        note = cur.error().code == ErrorCode::kResourceExhausted ? "file too large for a line diff"
                                                                  : "no line diff: " + cur.error().message;
      }
    }
    if (have_old && have_new) {
      if (looks_binary(old_text) || looks_binary(new_text)) {
        note = "binary file";
      } else if (total >= opts.max_total_diff_bytes) {
        note = "diff omitted: the answer reached its size cap; use read_file or export_workspace";
      } else {
        std::string d = unified_diff(old_text, new_text, c.path);
        if (static_cast<int64_t>(d.size()) > opts.max_file_diff_bytes) {
          d.resize(static_cast<size_t>(opts.max_file_diff_bytes));
          f["diff_truncated"] = true;
        }
        total += static_cast<int64_t>(d.size());
        f["diff"] = std::move(d);
      }
    }
    if (!note.empty()) f["diff_note"] = note;
    files.push_back(std::move(f));
  }
  return json::object{{"summary", json::object{{"added", added}, {"modified", modified}, {"deleted", deleted}}},
                      {"files", std::move(files)}};
}

namespace {

struct ArchiveWriter {
  struct archive* a = archive_write_new();
  ~ArchiveWriter() { archive_write_free(a); }
  Error fail(const std::string& what) const {
    return make_error(ErrorCode::kUnavailable, what + ": " + (archive_error_string(a) ? archive_error_string(a) : "?"));
  }
};

// Adds one entry (file, symlink or directory) of root to the archive. A
// file's content is streamed in 1 MiB chunks from a descriptor opened
// without following symlinks; a sparse file becomes a sparse entry (pax),
// whose holes are passed as zeros the writer skips, so neither the
// server's memory nor the archive grows with a hole.
Status add_entry(ArchiveWriter& w, const BeneathRoot& root, const WalkEntry& e, bool sparse_entries) {
  struct archive_entry* ent = archive_entry_new();
  struct Free {
    struct archive_entry* e;
    ~Free() { archive_entry_free(e); }
  } guard{ent};
  archive_entry_set_pathname(ent, e.rel.c_str());
  archive_entry_set_perm(ent, e.st.st_mode & 07777);
  archive_entry_set_mtime(ent, e.st.st_mtim.tv_sec, e.st.st_mtim.tv_nsec);
  if (S_ISLNK(e.st.st_mode)) {
    archive_entry_set_filetype(ent, AE_IFLNK);
    archive_entry_set_symlink(ent, e.link_target.c_str());
    archive_entry_set_size(ent, 0);
  } else if (S_ISDIR(e.st.st_mode)) {
    archive_entry_set_filetype(ent, AE_IFDIR);
    archive_entry_set_size(ent, 0);
  }
  if (!S_ISREG(e.st.st_mode)) {
    if (archive_write_header(w.a, ent) != ARCHIVE_OK) return w.fail("cannot add '" + e.rel + "' to the archive");
    return ok_status();
  }
  auto fd = root.open_at(e.rel, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY);
  if (!fd) return fd.error();
  struct stat st;
  if (::fstat(fd->get(), &st) < 0 || !S_ISREG(st.st_mode)) {
    return make_error(ErrorCode::kFailedPrecondition, "'" + e.rel + "' stopped being a regular file during the export");
  }
  const int64_t size = st.st_size;
  archive_entry_set_filetype(ent, AE_IFREG);
  archive_entry_set_size(ent, static_cast<la_int64_t>(size));
  // A file cut into more pieces than a real sparse file has is exported as
  // if dense: the map stays small whatever the sandbox made.
  constexpr size_t kMaxSparseSegments = 4096;
  std::vector<std::pair<int64_t, int64_t>> segments;
  auto listed = workspaces::for_each_data_segment(fd->get(), size, [&](int64_t off, int64_t len) -> Status {
    if (segments.size() >= kMaxSparseSegments) return make_error(ErrorCode::kResourceExhausted, "");
    segments.emplace_back(off, len);
    return ok_status();
  });
  if (!listed) segments.assign(1, {0, size});
  const bool holes = size > 0 && !(segments.size() == 1 && segments[0].first == 0 && segments[0].second == size);
  if (sparse_entries && holes) {
    for (const auto& [off, len] : segments) archive_entry_sparse_add_entry(ent, off, len);
    if (segments.empty()) archive_entry_sparse_add_entry(ent, size, 0);  // nothing but a hole
  }
  if (archive_write_header(w.a, ent) != ARCHIVE_OK) return w.fail("cannot add '" + e.rel + "' to the archive");
  static const std::vector<char> kZeros(1 << 20, 0);
  std::vector<char> buf(1 << 20);
  auto put = [&](const char* p, size_t n) -> Status {
    if (archive_write_data(w.a, p, n) < 0) return w.fail("cannot write '" + e.rel + "' into the archive");
    return ok_status();
  };
  int64_t pos = 0;
  segments.emplace_back(size, 0);  // the hole after the last data, if any
  for (const auto& [off, len] : segments) {
    for (; pos < off; pos += static_cast<int64_t>(std::min<int64_t>(off - pos, kZeros.size()))) {
      if (auto s = put(kZeros.data(), static_cast<size_t>(std::min<int64_t>(off - pos, kZeros.size()))); !s) return s;
    }
    for (int64_t end = off + len; pos < end;) {
      ssize_t n = ::pread(fd->get(), buf.data(), static_cast<size_t>(std::min<int64_t>(end - pos, buf.size())), pos);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return path_error(errno, e.rel, "export");
      if (n == 0) {  // shrank meanwhile: the header promised size bytes
        return make_error(ErrorCode::kFailedPrecondition, "'" + e.rel + "' shrank during the export; export again");
      }
      if (auto s = put(buf.data(), static_cast<size_t>(n)); !s) return s;
      pos += n;
    }
  }
  return ok_status();
}

}  // namespace

Result<json::object> export_archive(const ChangeSources& src, const std::string& format, bool changes_only,
                                    const std::string& out_path) {
  if (format != "tar.gz" && format != "zip") {
    return make_error(ErrorCode::kInvalidArgument, "format '" + format + "' is unknown; use tar.gz or zip");
  }
  std::vector<FileChange> changes;
  if (changes_only) {
    auto c = compute_changes(src);
    if (!c) return c.error();
    changes = std::move(*c);
  }
  auto root = BeneathRoot::open(src.workspace);
  if (!root) return root.error();
  std::error_code ec;
  fs::create_directories(fs::path(out_path).parent_path(), ec);  // host path: the exports dir
  const std::string partial = out_path + ".partial";
  int64_t entries = 0;
  json::array deleted;
  {
    ArchiveWriter w;
    if (format == "zip") {
      archive_write_set_format_zip(w.a);
    } else {
      archive_write_set_format_pax_restricted(w.a);
      archive_write_add_filter_gzip(w.a);
    }
    if (archive_write_open_filename(w.a, partial.c_str()) != ARCHIVE_OK) return w.fail("cannot create " + partial);
    Status failure = ok_status();
    if (changes_only) {
      for (const auto& c : changes) {
        if (c.kind == FileChange::Kind::kDeleted) {
          deleted.push_back(json::value(c.path));
          continue;
        }
        auto parent = root->open_parent(c.path, false);
        if (!parent) return parent.error();
        WalkEntry e;
        e.rel = c.path;
        if (::fstatat(parent->first.get(), parent->second.c_str(), &e.st, AT_SYMLINK_NOFOLLOW) < 0) {
          return path_error(errno, c.path, "export");
        }
        if (S_ISLNK(e.st.st_mode)) {
          char buf[4096];
          ssize_t n = ::readlinkat(parent->first.get(), parent->second.c_str(), buf, sizeof buf);
          if (n >= 0) e.link_target.assign(buf, static_cast<size_t>(n));
        }
        if (auto s = add_entry(w, *root, e, format != "zip"); !s) return s.error();
        ++entries;
      }
    } else {
      auto st = workspaces::walk_beneath(root->fd(), "", [&](const WalkEntry& e) {
        if (!failure) return false;
        if (S_ISREG(e.st.st_mode) || S_ISLNK(e.st.st_mode) || S_ISDIR(e.st.st_mode)) {
          failure = add_entry(w, *root, e, format != "zip");
          ++entries;
        }
        return S_ISDIR(e.st.st_mode);
      });
      if (!st) return st.error();
      if (!failure) return failure.error();
    }
    if (archive_write_close(w.a) != ARCHIVE_OK) return w.fail("cannot finish " + partial);
  }
  fs::rename(partial, out_path, ec);  // host path: the exports dir
  if (ec) return make_error(ErrorCode::kUnavailable, "cannot move the archive into place: " + ec.message());
  return json::object{{"path", out_path},
                      {"format", format},
                      // host path: the archive in the exports dir
                      {"size_bytes", static_cast<int64_t>(fs::file_size(out_path, ec))},
                      {"entries", entries},
                      {"changes_only", changes_only},
                      {"deleted", std::move(deleted)}};
}

namespace {

// Writes the workspace's regular file (wfd) as name in tdir: into a fresh
// temporary file beside it, holes kept, then renamed over whatever is there
// (a symlink is replaced, never written through; a reader never sees half a
// file). mode: permission bits only.
Status write_replacing(int wfd, int tdir, const std::string& name, mode_t mode, const BeneathRoot& dst,
                       const std::string& rel) {
  std::string tmp;
  int fd = -1;
  for (int attempt = 0; fd < 0 && attempt < 8; ++attempt) {
    tmp = ".isb-apply-" + std::to_string(ids::random_below(1000000000)) + ".tmp";
    fd = ::openat(tdir, tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0 && errno != EEXIST) return path_error(errno, rel, "create in the target");
  }
  if (fd < 0) return path_error(EEXIST, rel, "create in the target");
  UniqueFd out(fd);
  auto fail = [&](Status st) {
    ::unlinkat(tdir, tmp.c_str(), 0);
    return st;
  };
  if (auto st = workspaces::copy_sparse(wfd, out.get(), rel); !st) return fail(st);
  if (::fchmod(out.get(), mode) < 0) return fail(path_error(errno, rel, "set the mode of"));
  if (auto st = dst.adopt(out.get(), rel); !st) return fail(st);
  if (::renameat(tdir, tmp.c_str(), tdir, name.c_str()) < 0) return fail(path_error(errno, rel, "replace in the target"));
  return ok_status();
}

}  // namespace

Result<json::object> apply_changes_to(const ChangeSources& src, const std::string& target,
                                      const std::vector<std::string>& include) {
  auto changes = compute_changes(src);
  if (!changes) return changes.error();
  auto ws = BeneathRoot::open(src.workspace);
  if (!ws) return ws.error();
  auto dst = BeneathRoot::open(target);
  if (!dst) return dst.error();
  const workspaces::SecretPaths secrets(src.secret_paths);
  const workspaces::ApplyPolicy policy(secrets, target, include);
  json::array written, removed, withheld;
  auto withhold = [&](const FileChange& c, const std::string& what, const std::string& why) {
    withheld.push_back(json::object{{"path", c.path}, {"change", what}, {"reason", why}});
  };
  for (const auto& c : *changes) {
    const char* what = c.kind == FileChange::Kind::kDeleted ? "deletion" : change_kind_name(c.kind);
    if (auto why = policy.forbidden(c.path)) {
      withhold(c, what, *why);
      continue;
    }
    // What is there in the target now (without creating anything yet).
    struct stat tst {};
    bool exists = false;
    if (auto parent = dst->open_parent(c.path, false)) {
      exists = ::fstatat(parent->first.get(), parent->second.c_str(), &tst, AT_SYMLINK_NOFOLLOW) == 0;
    }
    std::optional<std::string> link;
    struct stat wst {};
    std::optional<std::pair<UniqueFd, std::string>> wparent;
    if (c.kind != FileChange::Kind::kDeleted) {
      auto p = ws->open_parent(c.path, false);
      if (!p) return p.error();
      if (::fstatat(p->first.get(), p->second.c_str(), &wst, AT_SYMLINK_NOFOLLOW) < 0) {
        return path_error(errno, c.path, "read");
      }
      if (S_ISLNK(wst.st_mode)) {
        char buf[4096];
        ssize_t n = ::readlinkat(p->first.get(), p->second.c_str(), buf, sizeof buf);
        if (n < 0) return path_error(errno, c.path, "read");
        link = std::string(buf, static_cast<size_t>(n));
      }
      wparent = std::move(*p);
    }
    if (auto why = policy.withheld(c.path, !exists, link)) {
      withhold(c, what, *why);
      continue;
    }
    auto tparent = dst->open_parent(c.path, c.kind != FileChange::Kind::kDeleted);
    if (!tparent) {
      if (c.kind == FileChange::Kind::kDeleted && tparent.error().code == ErrorCode::kNotFound) continue;
      return make_error(tparent.error().code, "applying to " + target + ": " + tparent.error().message);
    }
    const int tdir = tparent->first.get();
    const std::string& tname = tparent->second;
    exists = ::fstatat(tdir, tname.c_str(), &tst, AT_SYMLINK_NOFOLLOW) == 0;
    if (exists && S_ISDIR(tst.st_mode)) {
      return make_error(ErrorCode::kFailedPrecondition, "applying to " + target + ": '" + c.path +
                                                            "' is a directory there; move it away and apply again");
    }
    if (c.kind == FileChange::Kind::kDeleted) {
      if (exists) {
        if (::unlinkat(tdir, tname.c_str(), 0) < 0) return path_error(errno, c.path, "delete in the target");
        removed.push_back(json::value(c.path));
      }
      continue;
    }
    if (link) {
      // A new link under a temporary name, renamed over the old entry.
      const std::string tmp = ".isb-apply-link-" + tname;
      ::unlinkat(tdir, tmp.c_str(), 0);
      if (::symlinkat(link->c_str(), tdir, tmp.c_str()) < 0 ||
          ::renameat(tdir, tmp.c_str(), tdir, tname.c_str()) < 0) {
        const int err = errno;
        ::unlinkat(tdir, tmp.c_str(), 0);
        return path_error(err, c.path, "create in the target");
      }
    } else {
      auto wfd = ws->open_at(c.path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY);
      if (!wfd) return wfd.error();
      struct stat now {};
      if (::fstat(wfd->get(), &now) < 0 || !S_ISREG(now.st_mode)) {
        return make_error(ErrorCode::kFailedPrecondition,
                          "'" + c.path + "' stopped being a regular file in the workspace; apply again");
      }
      // Permission bits only: a setuid or setgid bit never travels out of a
      // workspace, and an executable bit only where the target had it.
      mode_t mode = now.st_mode & 0777;
      const mode_t had_exec = exists && S_ISREG(tst.st_mode) ? (tst.st_mode & 0111) : 0;
      const mode_t new_exec = mode & 0111 & ~had_exec;
      if (new_exec && !policy.included(c.path)) {
        mode &= ~new_exec;
        withhold(c, "executable bit",
                 "the file was written without the executable bit the sandbox gave it; name it in include to keep "
                 "the bit");
      }
      if (auto st = write_replacing(wfd->get(), tdir, tname, mode, *dst, c.path); !st) return st.error();
    }
    written.push_back(json::value(c.path));
  }
  const auto nw = static_cast<int64_t>(written.size()), nd = static_cast<int64_t>(removed.size());
  const auto nh = static_cast<int64_t>(withheld.size());
  return json::object{{"target", target},
                      {"written", std::move(written)},
                      {"deleted", std::move(removed)},
                      {"withheld", std::move(withheld)},
                      {"written_count", nw},
                      {"deleted_count", nd},
                      {"withheld_count", nh}};
}

}  // namespace isb
