// file_tools.hpp: the file tools agents use inside a workspace: list, read,
// write, delete and search, each confined to the workspace directory.
//
// Paths are relative to the workspace root. Every lookup resolves beneath the
// root in the kernel (openat2 RESOLVE_BENEATH), so "..", absolute paths and
// symlinks that lead outside are refused with kPermissionDenied, including a
// symlink swapped in while the call runs.
//
//   auto r = isb::file_tools::read_file("/srv/ws/ws-1", {.path = "README.md"});
//
// Threading: stateless free functions; safe to call concurrently. Concurrent
// writers to one file see last-writer-wins.
#pragma once

#include <isb/core/result.hpp>

#include <boost/json/object.hpp>

#include <cstdint>
#include <string>

namespace isb::file_tools {

//! Size caps, so that one call cannot exhaust the server's memory.
struct Caps {
  int64_t max_read_bytes = 1 << 20;          // read_file limit ceiling
  int64_t max_write_bytes = 16 << 20;        // write_file content ceiling
  int64_t max_search_file_bytes = 4 << 20;   // larger files are skipped by search_files
  int64_t max_list_entries = 10000;          // list_files stops (truncated: true) here
  int64_t max_search_results = 1000;         // search_files max_results ceiling
};

struct ListRequest {
  std::string path{};  // directory; "" or "." is the root
  bool recursive = false;
  std::string glob{};  // fnmatch pattern on the relative path ("**" not special); empty: all
};
//! {path, entries:[{path,type:file|dir|symlink|other,size,mode,mtime,target?}], count, truncated}
Result<boost::json::object> list_files(const std::string& root, const ListRequest& req, const Caps& caps = {});

struct ReadRequest {
  std::string path;
  int64_t offset = 0;
  int64_t limit = -1;  // -1: up to caps.max_read_bytes
};
//! {path, size, offset, length, encoding: utf-8|base64, content, eof}
Result<boost::json::object> read_file(const std::string& root, const ReadRequest& req, const Caps& caps = {});

struct WriteRequest {
  std::string path;
  std::string content;
  std::string encoding = "utf-8";  // or base64
  std::string mode = "overwrite";  // overwrite | append | create (fails if it exists)
  bool create_parents = true;
  //! Bytes the workspace may still grow by; negative: no quota.
  int64_t quota_remaining = -1;
};
//! {path, bytes_written, size, created}
Result<boost::json::object> write_file(const std::string& root, const WriteRequest& req, const Caps& caps = {});

//! Deletes a file or symlink (the link, never its target); a directory only
//! when recursive. {path, deleted, entries_removed}
Result<boost::json::object> delete_file(const std::string& root, const std::string& path, bool recursive);

struct SearchRequest {
  std::string pattern{};  // POSIX extended regular expression, matched per line
  std::string glob{};     // fnmatch on the relative path; empty: every file
  std::string path{};     // directory to search under; "" is the root
  int64_t max_results = 100;
  bool case_insensitive = false;
};
//! {matches:[{path,line,text}], count, files_scanned, truncated, skipped_binary, skipped_large}
Result<boost::json::object> search_files(const std::string& root, const SearchRequest& req, const Caps& caps = {});

//! Bytes used by regular files under root (not following symlinks).
Result<int64_t> disk_usage_bytes(const std::string& root);

//! Standard base64 (RFC 4648) with padding.
std::string base64_encode(std::string_view data);
//! Decodes standard base64; an error names the first bad character.
Result<std::string> base64_decode(std::string_view text);

}  // namespace isb::file_tools
