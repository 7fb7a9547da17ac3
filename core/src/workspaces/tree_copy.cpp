// tree_copy.cpp: copies a project tree into a new workspace without ever
// following a symlink out of it and without credentials.
#include <isb/core/workspace_service.hpp>

#include <sys/stat.h>

#include <filesystem>
#include <set>

namespace fs = std::filesystem;

namespace isb {

namespace {

// Never copied, at any depth: an agent running in the workspace must not find
// the user's keys there.
bool is_credential(const fs::path& rel) {
  static const std::set<std::string> kNames = {".ssh", ".gnupg", ".aws", ".netrc", ".git-credentials", ".pgpass"};
  auto name = rel.filename().string();
  if (kNames.count(name)) return true;
  if (name == "config.json" && rel.parent_path().filename() == ".docker") return true;
  return false;
}

}  // namespace

Result<CopyReport> copy_tree(const std::string& source, const std::string& dest) {
  CopyReport report;
  std::error_code ec;
  if (fs::exists(dest, ec)) return make_error(ErrorCode::kAlreadyExists, "copy target " + dest + " already exists");
  fs::create_directories(dest, ec);
  if (ec) return make_error(ErrorCode::kUnavailable, "cannot create " + dest + ": " + ec.message());
  fs::permissions(dest, fs::status(source).permissions(), ec);

  // Directory mtimes are set after their contents, deepest first.
  std::vector<std::pair<fs::path, fs::file_time_type>> dir_times;
  fs::recursive_directory_iterator it(source, fs::directory_options::none, ec);
  if (ec) return make_error(ErrorCode::kUnavailable, "cannot read " + source + ": " + ec.message());
  for (; it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (ec) return make_error(ErrorCode::kUnavailable, "cannot read " + source + ": " + ec.message());
    const fs::path& from = it->path();
    fs::path rel = from.lexically_relative(source);
    fs::path to = fs::path(dest) / rel;
    if (is_credential(rel)) {
      report.skipped_credentials.push_back(rel.string());
      if (it->is_directory(ec) && !it->is_symlink(ec)) it.disable_recursion_pending();
      continue;
    }
    auto st = it->symlink_status(ec);
    if (ec) return make_error(ErrorCode::kUnavailable, "cannot stat " + from.string() + ": " + ec.message());
    if (fs::is_symlink(st)) {
      fs::copy_symlink(from, to, ec);
      if (ec) return make_error(ErrorCode::kUnavailable, "cannot copy symlink " + rel.string() + ": " + ec.message());
      ++report.symlinks;
    } else if (fs::is_directory(st)) {
      fs::create_directory(to, ec);
      if (ec) return make_error(ErrorCode::kUnavailable, "cannot create " + to.string() + ": " + ec.message());
      fs::permissions(to, st.permissions(), ec);
      dir_times.emplace_back(to, fs::last_write_time(from, ec));
      ++report.directories;
    } else if (fs::is_regular_file(st)) {
      fs::copy_file(from, to, fs::copy_options::none, ec);
      if (ec) return make_error(ErrorCode::kUnavailable, "cannot copy " + rel.string() + ": " + ec.message());
      fs::last_write_time(to, fs::last_write_time(from, ec), ec);
      report.bytes += static_cast<int64_t>(it->file_size(ec));
      ++report.files;
    } else {
      report.skipped_special.push_back(rel.string());
    }
  }
  for (auto d = dir_times.rbegin(); d != dir_times.rend(); ++d) fs::last_write_time(d->first, d->second, ec);
  return report;
}

}  // namespace isb
