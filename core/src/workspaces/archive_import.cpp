// archive_import.cpp: hostile-by-default archive extraction (see the header).
#include "workspaces/archive_import.hpp"

#include "workspaces/credentials.hpp"
#include "workspaces/safe_path.hpp"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

namespace isb::workspaces {

namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

struct Reader {
  struct archive* a = archive_read_new();
  ~Reader() { archive_read_free(a); }
  std::string error() const { return archive_error_string(a) ? archive_error_string(a) : "unknown error"; }
};

}  // namespace

bool is_archive_path(const std::string& p) {
  return ends_with(p, ".tar") || ends_with(p, ".tar.gz") || ends_with(p, ".tgz") || ends_with(p, ".zip");
}

Result<ArchiveImport> import_archive(const std::string& archive, const std::string& dest, const SecretPaths& secrets,
                                     const ArchiveLimits& limits) {
  auto root = BeneathRoot::open(dest);
  if (!root) return root.error();
  Reader r;
  archive_read_support_format_tar(r.a);
  archive_read_support_format_gnutar(r.a);
  archive_read_support_format_zip(r.a);
  archive_read_support_filter_gzip(r.a);
  if (archive_read_open_filename(r.a, archive.c_str(), 65536) != ARCHIVE_OK) {
    return make_error(ErrorCode::kInvalidArgument,
                      "cannot open " + archive + " as a .tar, .tar.gz or .zip archive: " + r.error());
  }
  ArchiveImport out;
  int64_t entries = 0;
  struct archive_entry* e = nullptr;
  for (;;) {
    int rc = archive_read_next_header(r.a, &e);
    if (rc == ARCHIVE_EOF) break;
    if (rc < ARCHIVE_WARN) {
      return make_error(ErrorCode::kInvalidArgument, "archive " + archive + " is corrupt: " + r.error());
    }
    if (++entries > limits.max_entries) {
      return make_error(ErrorCode::kResourceExhausted, "archive " + archive + " has more than " +
                                                           std::to_string(limits.max_entries) +
                                                           " entries; refusing it as a possible archive bomb");
    }
    const char* raw = archive_entry_pathname(e);
    const std::string name = raw ? raw : "";
    auto skip = [&](const std::string& why) { out.skipped.push_back(name + ": " + why); };
    if (name.empty()) {
      skip("empty name");
      continue;
    }
    if (name[0] == '/') {
      skip("absolute path");
      continue;
    }
    auto norm = normalize_relative(name);
    if (!norm) {
      skip("path with '..'");
      continue;
    }
    if (norm->empty()) continue;  // "./" itself
    if (secrets.within(*norm)) {
      skip("credential, never unpacked");
      continue;
    }
    const mode_t perm = archive_entry_perm(e) & 0777;  // no setuid, setgid or sticky
    const char* hardlink = archive_entry_hardlink(e);
    const auto type = archive_entry_filetype(e);
    if (hardlink) {
      // Becomes a copy of an earlier regular file of this archive.
      auto target = normalize_relative(hardlink);
      if (!target || target->empty() || hardlink[0] == '/') {
        skip("hard link pointing outside");
        continue;
      }
      auto from = root->open_at(*target, O_RDONLY | O_NOFOLLOW | O_NONBLOCK);
      struct stat st;
      if (!from || ::fstat(from->get(), &st) < 0 || !S_ISREG(st.st_mode)) {
        skip("hard link to something that is not an earlier regular file");
        continue;
      }
      out.bytes += st.st_size;
      if (out.bytes > limits.max_total_bytes) {
        return make_error(ErrorCode::kResourceExhausted, "archive " + archive + " unpacks to more than " +
                                                             std::to_string(limits.max_total_bytes) + " bytes");
      }
      auto parent = root->open_parent(*norm, true);
      if (!parent) return parent.error();
      ::unlinkat(parent->first.get(), parent->second.c_str(), 0);
      int fd = ::openat(parent->first.get(), parent->second.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                        st.st_mode & 0777);
      if (fd < 0) return path_error(errno, *norm, "unpack");
      UniqueFd to(fd);
      char buf[65536];
      ssize_t n;
      while ((n = ::read(from->get(), buf, sizeof buf)) > 0) {
        if (::write(to.get(), buf, static_cast<size_t>(n)) != n) return path_error(errno, *norm, "unpack");
      }
      ++out.files;
      continue;
    }
    if (type == AE_IFDIR) {
      auto parent = root->open_parent(*norm, true);
      if (!parent) return parent.error();
      if (::mkdirat(parent->first.get(), parent->second.c_str(), perm | 0700) < 0 && errno != EEXIST) {
        return path_error(errno, *norm, "unpack");
      }
      ++out.directories;
    } else if (type == AE_IFLNK) {
      const char* t = archive_entry_symlink(e);
      const std::string target = t ? t : "";
      if (!link_stays_beneath(*norm, target)) {
        skip("symlink pointing outside (" + target + ")");
        continue;
      }
      auto parent = root->open_parent(*norm, true);
      if (!parent) return parent.error();
      ::unlinkat(parent->first.get(), parent->second.c_str(), 0);
      if (::symlinkat(target.c_str(), parent->first.get(), parent->second.c_str()) < 0) {
        return path_error(errno, *norm, "unpack");
      }
      ++out.symlinks;
    } else if (type == AE_IFREG) {
      if (archive_entry_size_is_set(e) && archive_entry_size(e) > limits.max_entry_bytes) {
        return make_error(ErrorCode::kResourceExhausted,
                          "archive entry '" + name + "' is larger than " + std::to_string(limits.max_entry_bytes) +
                              " bytes; refusing it as a possible bomb");
      }
      auto parent = root->open_parent(*norm, true);
      if (!parent) return parent.error();
      // Replace whatever an earlier entry left (a symlink included), never write through it.
      ::unlinkat(parent->first.get(), parent->second.c_str(), 0);
      int fd = ::openat(parent->first.get(), parent->second.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                        perm);
      if (fd < 0) return path_error(errno, *norm, "unpack");
      UniqueFd to(fd);
      int64_t entry_bytes = 0;
      const void* block;
      size_t size;
      la_int64_t offset;
      for (;;) {
        int d = archive_read_data_block(r.a, &block, &size, &offset);
        if (d == ARCHIVE_EOF) break;
        if (d < ARCHIVE_WARN) {
          return make_error(ErrorCode::kInvalidArgument, "archive entry '" + name + "' is corrupt: " + r.error());
        }
        entry_bytes += static_cast<int64_t>(size);
        out.bytes += static_cast<int64_t>(size);
        // Counted as decompressed, so a lying header cannot get past the limits.
        if (entry_bytes > limits.max_entry_bytes || out.bytes > limits.max_total_bytes) {
          return make_error(ErrorCode::kResourceExhausted,
                            "archive " + archive + " unpacks to more than its limits (" +
                                std::to_string(limits.max_entry_bytes) + " bytes per entry, " +
                                std::to_string(limits.max_total_bytes) + " in all); refusing it as a possible bomb");
        }
        if (::pwrite(to.get(), block, size, static_cast<off_t>(offset)) != static_cast<ssize_t>(size)) {
          return path_error(errno, *norm, "unpack");
        }
      }
      ::fchmod(to.get(), perm);
      const time_t mt = archive_entry_mtime(e);
      struct timespec times[2] = {{mt, 0}, {mt, archive_entry_mtime_nsec(e)}};
      ::futimens(to.get(), times);
      ++out.files;
    } else {
      skip("device, fifo or socket");
    }
  }
  return out;
}

}  // namespace isb::workspaces
