// tree_copy.cpp: copies a project tree into a new workspace, in parallel,
// without ever following a symlink out of it and without credentials.
//
// One thread walks the source by file descriptor (directories opened with
// O_NOFOLLOW relative to their parent), creating directories and symlinks
// and queueing regular files; a few threads then copy file contents with
// copy_file_range (in-kernel, holes kept; see file_copy.hpp), modes
// and timestamps; directory modes and times are set last, deepest first, so
// that writing their contents does not disturb them. Entries named by the
// source's .sandboxignore or by sandbox.copy_excludes are skipped (see
// ignore_rules.hpp).
// host paths only: the roots of the source (the operator's) and of the new copy (the server's, not yet seen by a sandbox); entries are walked by descriptor.
#include <isb/core/workspace_service.hpp>

#include "workspaces/credentials.hpp"
#include "workspaces/file_copy.hpp"
#include "workspaces/ignore_rules.hpp"
#include "workspaces/safe_path.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <thread>

namespace isb {

namespace {

using workspaces::UniqueFd;
using workspaces::WalkEntry;

struct FileJob {
  std::string rel;
  struct stat st;
};

Status copy_file(int src_root, int dst_root, const FileJob& job) {
  int in = ::openat(src_root, job.rel.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
  if (in < 0) return make_error(ErrorCode::kUnavailable, "cannot read " + job.rel + ": " + std::strerror(errno));
  UniqueFd from(in);
  int out = ::openat(dst_root, job.rel.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (out < 0) return make_error(ErrorCode::kUnavailable, "cannot create " + job.rel + ": " + std::strerror(errno));
  UniqueFd to(out);
  if (auto st = workspaces::copy_sparse(from.get(), to.get(), job.rel); !st) return st;
  ::fchmod(to.get(), job.st.st_mode & 07777);
  const struct timespec times[2] = {job.st.st_atim, job.st.st_mtim};
  ::futimens(to.get(), times);
  return ok_status();
}

}  // namespace

Result<CopyReport> copy_tree(const std::string& source, const std::string& dest,
                             const std::vector<std::string>& extra_excludes,
                             const std::vector<std::string>& secret_paths, bool into_existing) {
  const workspaces::SecretPaths secrets(secret_paths);
  CopyReport report;
  struct stat root_st;
  if (!into_existing && ::lstat(dest.c_str(), &root_st) == 0) {
    return make_error(ErrorCode::kAlreadyExists, "copy target " + dest + " already exists");
  }
  int src_fd = ::open(source.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (src_fd < 0) return make_error(ErrorCode::kUnavailable, "cannot read " + source + ": " + std::strerror(errno));
  UniqueFd src(src_fd);
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(dest).parent_path(), ec);
  if (::fstat(src.get(), &root_st) < 0 || (!into_existing && ::mkdir(dest.c_str(), 0700) < 0)) {
    return make_error(ErrorCode::kUnavailable, "cannot create " + dest + ": " + std::strerror(errno));
  }
  int dst_fd = ::open(dest.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (dst_fd < 0) return make_error(ErrorCode::kUnavailable, "cannot open " + dest + ": " + std::strerror(errno));
  UniqueFd dst(dst_fd);

  const auto ignore = workspaces::IgnoreRules::load(source, extra_excludes);
  std::vector<FileJob> files;
  std::vector<WalkEntry> dirs;
  Status failure = ok_status();
  auto walked = workspaces::walk_beneath(src.get(), "", [&](const WalkEntry& e) {
    if (!failure) return false;
    if (secrets.matches(e.rel)) {
      report.skipped_credentials.push_back(e.rel);
      return false;
    }
    const mode_t m = e.st.st_mode;
    if (ignore.ignored(e.rel, S_ISDIR(m))) {
      report.skipped_ignored.push_back(e.rel);
      return false;
    }
    if (S_ISDIR(m)) {
      if (::mkdirat(dst.get(), e.rel.c_str(), 0700) < 0) {
        failure = make_error(ErrorCode::kUnavailable, "cannot create " + e.rel + ": " + std::strerror(errno));
        return false;
      }
      dirs.push_back(e);
      ++report.directories;
      return true;
    }
    if (S_ISLNK(m)) {
      if (::symlinkat(e.link_target.c_str(), dst.get(), e.rel.c_str()) < 0) {
        failure = make_error(ErrorCode::kUnavailable, "cannot copy symlink " + e.rel + ": " + std::strerror(errno));
        return false;
      }
      const struct timespec times[2] = {e.st.st_atim, e.st.st_mtim};
      ::utimensat(dst.get(), e.rel.c_str(), times, AT_SYMLINK_NOFOLLOW);
      ++report.symlinks;
    } else if (S_ISREG(m)) {
      files.push_back({e.rel, e.st});
      report.bytes += e.st.st_size;
      ++report.files;
    } else {
      report.skipped_special.push_back(e.rel);
    }
    return false;
  });
  if (!walked) return walked.error();
  if (!failure) return failure.error();

  // Small files dominate real trees, so the cost is per file (open, copy,
  // chmod, utimens, close): spread the files over a few threads.
  const size_t threads =
      std::clamp<size_t>(std::thread::hardware_concurrency(), 2, 8) * (files.size() > 64 ? 1 : 0);
  std::atomic<size_t> next{0};
  std::mutex error_mu;
  Status first_error = ok_status();
  auto worker = [&] {
    for (size_t i = next++; i < files.size(); i = next++) {
      auto st = copy_file(src.get(), dst.get(), files[i]);
      if (!st) {
        std::lock_guard<std::mutex> lock(error_mu);
        if (first_error) first_error = st;
        next = files.size();
        return;
      }
    }
  };
  if (threads == 0) {
    worker();
  } else {
    std::vector<std::thread> pool;
    for (size_t t = 0; t < threads; ++t) pool.emplace_back(worker);
    for (auto& t : pool) t.join();
  }
  if (!first_error) return first_error.error();

  for (auto d = dirs.rbegin(); d != dirs.rend(); ++d) {
    ::fchmodat(dst.get(), d->rel.c_str(), d->st.st_mode & 07777, 0);
    const struct timespec times[2] = {d->st.st_atim, d->st.st_mtim};
    ::utimensat(dst.get(), d->rel.c_str(), times, AT_SYMLINK_NOFOLLOW);
  }
  ::fchmod(dst.get(), root_st.st_mode & 07777);
  const struct timespec root_times[2] = {root_st.st_atim, root_st.st_mtim};
  ::futimens(dst.get(), root_times);
  return report;
}

}  // namespace isb
