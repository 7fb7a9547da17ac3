// archive_import.hpp: unpacking a .tar, .tar.gz or .zip workspace source,
// treating the archive as hostile.
//
// Every entry is written by the server itself beneath the destination
// (openat2 RESOLVE_BENEATH), never by libarchive's disk writer. Absolute
// paths, ".." components, symlinks leaving the tree, hard links to anything
// but an earlier regular file, devices, fifos, sockets and credential files
// are skipped and reported; setuid/setgid/sticky bits are dropped; more
// entries or bytes than the limits fail the whole import.
//
// Threading: stateless; safe to call concurrently on different destinations.
#pragma once

#include <isb/core/result.hpp>

#include "workspaces/credentials.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace isb::workspaces {

struct ArchiveLimits {
  int64_t max_entries = 200000;
  int64_t max_total_bytes = int64_t{4} << 30;  // uncompressed
  int64_t max_entry_bytes = int64_t{1} << 30;
};

struct ArchiveImport {
  int64_t files = 0;
  int64_t directories = 0;
  int64_t symlinks = 0;
  int64_t bytes = 0;
  std::vector<std::string> skipped;  // "<entry>: <reason>"
};

//! True when path names a file the importer accepts (.tar, .tar.gz, .tgz, .zip).
bool is_archive_path(const std::string& path);

//! Unpacks archive into dest, which must exist and be empty.
//! Entries within secrets are skipped.
Result<ArchiveImport> import_archive(const std::string& archive, const std::string& dest, const SecretPaths& secrets,
                                     const ArchiveLimits& limits = {});

}  // namespace isb::workspaces
