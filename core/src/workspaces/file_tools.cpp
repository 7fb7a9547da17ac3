// file_tools.cpp: list/read/write/delete/search confined beneath a workspace
// root by openat2 (see safe_path.hpp).
#include <isb/core/file_tools.hpp>

#include "time/utc_time.hpp"
#include "workspaces/safe_path.hpp"

#include <boost/json/array.hpp>

#include <fcntl.h>
#include <fnmatch.h>
#include <regex.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace json = boost::json;

namespace isb::file_tools {

using workspaces::BeneathRoot;
using workspaces::path_error;
using workspaces::UniqueFd;
using workspaces::WalkEntry;

namespace {

const char* type_name(mode_t m) {
  if (S_ISREG(m)) return "file";
  if (S_ISDIR(m)) return "dir";
  if (S_ISLNK(m)) return "symlink";
  return "other";
}

std::string iso_time(const struct timespec& ts) { return iso8601_utc(static_cast<std::time_t>(ts.tv_sec)); }

bool glob_matches(const std::string& glob, const std::string& rel) {
  if (glob.empty()) return true;
  auto slash = rel.rfind('/');
  const std::string base = slash == std::string::npos ? rel : rel.substr(slash + 1);
  return ::fnmatch(glob.c_str(), rel.c_str(), 0) == 0 || ::fnmatch(glob.c_str(), base.c_str(), 0) == 0;
}

bool is_valid_utf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    auto c = static_cast<unsigned char>(s[i]);
    size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
    if (n == 0 || i + n > s.size()) return false;
    for (size_t k = 1; k < n; ++k) {
      if ((static_cast<unsigned char>(s[i + k]) >> 6) != 0x2) return false;
    }
    i += n;
  }
  return true;
}

// Reads all of fd (a regular file) up to cap bytes.
Result<std::string> read_all(int fd, int64_t cap, const std::string& rel) {
  std::string data;
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return path_error(errno, rel, "read");
    }
    if (n == 0) break;
    data.append(buf, static_cast<size_t>(n));
    if (static_cast<int64_t>(data.size()) > cap) break;
  }
  return data;
}

Status write_all(int fd, std::string_view data, const std::string& rel) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return path_error(errno, rel, "write");
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return ok_status();
}

}  // namespace

std::string base64_encode(std::string_view data) {
  static const char* kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((data.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < data.size(); i += 3) {
    uint32_t v = (static_cast<uint8_t>(data[i]) << 16) | (static_cast<uint8_t>(data[i + 1]) << 8) |
                 static_cast<uint8_t>(data[i + 2]);
    out += kAlphabet[v >> 18];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += kAlphabet[v & 63];
  }
  if (i < data.size()) {
    uint32_t v = static_cast<uint8_t>(data[i]) << 16;
    if (i + 1 < data.size()) v |= static_cast<uint8_t>(data[i + 1]) << 8;
    out += kAlphabet[v >> 18];
    out += kAlphabet[(v >> 12) & 63];
    out += i + 1 < data.size() ? kAlphabet[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

Result<std::string> base64_decode(std::string_view text) {
  auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  size_t pad = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '\n' || c == '\r') continue;
    if (c == '=') {
      ++pad;
      continue;
    }
    int v = value(c);
    if (v < 0 || pad > 0) {
      return make_error(ErrorCode::kInvalidArgument, "content is not valid base64: unexpected character at offset " +
                                                         std::to_string(i) + "; send standard base64 (A-Z a-z 0-9 + /)");
    }
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xFF);
    }
  }
  return out;
}

Result<json::object> list_files(const std::string& root_path, const ListRequest& req, const Caps& caps) {
  auto root = BeneathRoot::open(root_path, workspaces::Links::kWithinRoot);
  if (!root) return root.error();
  auto norm = workspaces::normalize_relative(req.path);
  if (!norm) return norm.error();
  auto dir = root->open_at(*norm, O_RDONLY | O_DIRECTORY);
  if (!dir) {
    if (dir.error().code == ErrorCode::kInvalidArgument) {
      return make_error(ErrorCode::kInvalidArgument, "'" + req.path + "' is not a directory; use read_file for files");
    }
    return dir.error();
  }
  json::array entries;
  bool truncated = false;
  auto st = workspaces::walk_beneath(dir->get(), *norm, [&](const WalkEntry& e) {
    if (truncated) return false;
    if (glob_matches(req.glob, e.rel)) {
      if (static_cast<int64_t>(entries.size()) >= caps.max_list_entries) {
        truncated = true;
        return false;
      }
      json::object o{{"path", e.rel},
                     {"type", type_name(e.st.st_mode)},
                     {"size", static_cast<int64_t>(e.st.st_size)},
                     {"mode", static_cast<int64_t>(e.st.st_mode & 07777)},
                     {"mtime", iso_time(e.st.st_mtim)}};
      if (S_ISLNK(e.st.st_mode)) o["target"] = e.link_target;
      entries.push_back(std::move(o));
    }
    return req.recursive;
  });
  if (!st) return st.error();
  const auto count = static_cast<int64_t>(entries.size());
  return json::object{{"path", norm->empty() ? "." : *norm},
                      {"entries", std::move(entries)},
                      {"count", count},
                      {"truncated", truncated}};
}

Result<json::object> read_file(const std::string& root_path, const ReadRequest& req, const Caps& caps) {
  if (req.offset < 0) return make_error(ErrorCode::kInvalidArgument, "offset must be >= 0");
  if (req.limit == 0 || req.limit < -1) return make_error(ErrorCode::kInvalidArgument, "limit must be positive");
  if (req.limit > caps.max_read_bytes) {
    return make_error(ErrorCode::kInvalidArgument,
                      "limit " + std::to_string(req.limit) + " exceeds the maximum of " +
                          std::to_string(caps.max_read_bytes) + " bytes per call; read in chunks using offset");
  }
  auto root = BeneathRoot::open(root_path, workspaces::Links::kWithinRoot);
  if (!root) return root.error();
  // O_NONBLOCK: opening a fifo planted in the workspace must not hang the server.
  auto fd = root->open_at(req.path, O_RDONLY | O_NONBLOCK | O_NOCTTY);
  if (!fd) return fd.error();
  struct stat st;
  if (::fstat(fd->get(), &st) < 0) return path_error(errno, req.path, "stat");
  if (S_ISDIR(st.st_mode)) {
    return make_error(ErrorCode::kInvalidArgument, "'" + req.path + "' is a directory; use list_files");
  }
  if (!S_ISREG(st.st_mode)) {
    return make_error(ErrorCode::kInvalidArgument, "'" + req.path + "' is not a regular file (" +
                                                       type_name(st.st_mode) + "); only regular files can be read");
  }
  const int64_t want = req.limit < 0 ? caps.max_read_bytes : req.limit;
  std::string data(static_cast<size_t>(std::min<int64_t>(want, std::max<int64_t>(0, st.st_size - req.offset))), '\0');
  size_t got = 0;
  while (got < data.size()) {
    ssize_t n = ::pread(fd->get(), data.data() + got, data.size() - got, static_cast<off_t>(req.offset + got));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return path_error(errno, req.path, "read");
    if (n == 0) break;
    got += static_cast<size_t>(n);
  }
  data.resize(got);
  const bool text = data.find('\0') == std::string::npos && is_valid_utf8(data);
  const auto length = static_cast<int64_t>(data.size());
  return json::object{{"path", req.path},
                      {"size", static_cast<int64_t>(st.st_size)},
                      {"offset", req.offset},
                      {"length", length},
                      {"encoding", text ? "utf-8" : "base64"},
                      {"content", text ? data : base64_encode(data)},
                      {"eof", req.offset + length >= st.st_size}};
}

Result<json::object> write_file(const std::string& root_path, const WriteRequest& req, const Caps& caps) {
  std::string content;
  if (req.encoding == "base64") {
    auto d = base64_decode(req.content);
    if (!d) return d.error();
    content = std::move(*d);
  } else if (req.encoding == "utf-8" || req.encoding.empty()) {
    content = req.content;
  } else {
    return make_error(ErrorCode::kInvalidArgument, "encoding '" + req.encoding + "' is unknown; use utf-8 or base64");
  }
  if (static_cast<int64_t>(content.size()) > caps.max_write_bytes) {
    return make_error(ErrorCode::kInvalidArgument, "content is " + std::to_string(content.size()) +
                                                       " bytes, over the limit of " +
                                                       std::to_string(caps.max_write_bytes) + " per write_file call");
  }
  int flags = O_WRONLY | O_CREAT | O_NONBLOCK | O_NOCTTY;
  if (req.mode == "overwrite") {
    flags |= O_TRUNC;
  } else if (req.mode == "append") {
    flags |= O_APPEND;
  } else if (req.mode == "create") {
    flags |= O_EXCL;
  } else {
    return make_error(ErrorCode::kInvalidArgument, "mode '" + req.mode + "' is unknown; use overwrite, append or create");
  }
  auto root = BeneathRoot::open(root_path, workspaces::Links::kWithinRoot);
  if (!root) return root.error();
  auto norm = workspaces::normalize_relative(req.path);
  if (!norm) return norm.error();
  // Creates missing parents (each step beneath the root); the open below
  // resolves the whole path again beneath the root.
  auto parent = root->open_parent(*norm, req.create_parents);
  if (!parent) return parent.error();
  struct stat before;
  const bool existed = ::fstatat(parent->first.get(), parent->second.c_str(), &before, 0) == 0;
  if (existed && !S_ISREG(before.st_mode)) {
    return make_error(ErrorCode::kInvalidArgument, "'" + req.path + "' exists and is not a regular file (" +
                                                       type_name(before.st_mode) + "); choose another path");
  }
  if (req.quota_remaining >= 0) {
    int64_t growth = static_cast<int64_t>(content.size()) -
                     (existed && req.mode == "overwrite" ? static_cast<int64_t>(before.st_size) : 0);
    if (growth > req.quota_remaining) {
      return make_error(ErrorCode::kResourceExhausted,
                        "writing " + std::to_string(content.size()) + " bytes to '" + req.path +
                            "' would exceed the workspace's disk quota (resource_limits.disk_mb): only " +
                            std::to_string(req.quota_remaining) + " bytes remain; delete files first");
    }
  }
  auto fd = root->open_at(*norm, flags, 0644);
  if (!fd) return fd.error();
  struct stat st;
  if (::fstat(fd->get(), &st) < 0) return path_error(errno, req.path, "stat");
  if (!S_ISREG(st.st_mode)) {
    return make_error(ErrorCode::kInvalidArgument, "'" + req.path + "' is not a regular file; nothing was written");
  }
  if (!existed) {
    if (auto s = root->adopt(fd->get(), req.path); !s) return s.error();
  }
  if (auto s = write_all(fd->get(), content, req.path); !s) return s.error();
  if (::fstat(fd->get(), &st) < 0) return path_error(errno, req.path, "stat");
  return json::object{{"path", *norm},
                      {"bytes_written", static_cast<int64_t>(content.size())},
                      {"size", static_cast<int64_t>(st.st_size)},
                      {"created", !existed}};
}

Result<json::object> delete_file(const std::string& root_path, const std::string& path, bool recursive) {
  auto root = BeneathRoot::open(root_path, workspaces::Links::kWithinRoot);
  if (!root) return root.error();
  auto parent = root->open_parent(path, false);
  if (!parent) return parent.error();
  struct stat st;
  if (::fstatat(parent->first.get(), parent->second.c_str(), &st, AT_SYMLINK_NOFOLLOW) < 0) {
    return path_error(errno, path, "delete");
  }
  if (S_ISDIR(st.st_mode) && !recursive) {
    return make_error(ErrorCode::kInvalidArgument,
                      "'" + path + "' is a directory; pass recursive: true to delete it with its contents");
  }
  int64_t removed = 0;
  if (auto s = workspaces::remove_tree_at(parent->first.get(), parent->second, path, removed); !s) return s.error();
  return json::object{{"path", path}, {"deleted", true}, {"entries_removed", removed}};
}

Result<json::object> search_files(const std::string& root_path, const SearchRequest& req, const Caps& caps) {
  if (req.pattern.empty()) return make_error(ErrorCode::kInvalidArgument, "pattern must not be empty");
  if (req.max_results < 1 || req.max_results > caps.max_search_results) {
    return make_error(ErrorCode::kInvalidArgument,
                      "max_results must be between 1 and " + std::to_string(caps.max_search_results));
  }
  regex_t re;
  int rc = ::regcomp(&re, req.pattern.c_str(), REG_EXTENDED | REG_NOSUB | (req.case_insensitive ? REG_ICASE : 0));
  if (rc != 0) {
    char msg[256];
    ::regerror(rc, &re, msg, sizeof msg);
    return make_error(ErrorCode::kInvalidArgument,
                      "pattern '" + req.pattern + "' is not a valid POSIX extended regular expression: " + msg);
  }
  struct RegexGuard {
    regex_t* r;
    ~RegexGuard() { ::regfree(r); }
  } guard{&re};

  auto root = BeneathRoot::open(root_path, workspaces::Links::kWithinRoot);
  if (!root) return root.error();
  auto norm = workspaces::normalize_relative(req.path);
  if (!norm) return norm.error();
  auto dir = root->open_at(*norm, O_RDONLY | O_DIRECTORY);
  if (!dir) return dir.error();
  json::array matches;
  int64_t scanned = 0, binary = 0, large = 0;
  bool truncated = false;
  Status failure = ok_status();
  auto st = workspaces::walk_beneath(dir->get(), *norm, [&](const WalkEntry& e) {
    if (truncated || !failure) return false;
    if (S_ISDIR(e.st.st_mode)) return true;
    if (!S_ISREG(e.st.st_mode) || !glob_matches(req.glob, e.rel)) return false;
    if (e.st.st_size > caps.max_search_file_bytes) {
      ++large;
      return false;
    }
    // O_NOFOLLOW: the walk saw a regular file; if it became a symlink since, skip it.
    auto fd = root->open_at(e.rel, O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_NOCTTY);
    if (!fd) return false;
    auto data = read_all(fd->get(), caps.max_search_file_bytes, e.rel);
    if (!data) return false;
    ++scanned;
    if (data->find('\0', 0) != std::string::npos) {
      ++binary;
      return false;
    }
    int64_t line_no = 0;
    size_t pos = 0;
    std::string line;
    while (pos <= data->size() && !truncated) {
      size_t end = data->find('\n', pos);
      if (end == std::string::npos) end = data->size();
      ++line_no;
      line.assign(*data, pos, end - pos);
      if (::regexec(&re, line.c_str(), 0, nullptr, 0) == 0) {
        if (static_cast<int64_t>(matches.size()) >= req.max_results) {
          truncated = true;
          break;
        }
        if (line.size() > 400) line = line.substr(0, 400) + "...";
        matches.push_back(json::object{{"path", e.rel}, {"line", line_no}, {"text", line}});
      }
      if (end == data->size()) break;
      pos = end + 1;
    }
    return false;
  });
  if (!st) return st.error();
  const auto count = static_cast<int64_t>(matches.size());
  return json::object{{"matches", std::move(matches)}, {"count", count},          {"files_scanned", scanned},
                      {"truncated", truncated},        {"skipped_binary", binary}, {"skipped_large", large}};
}

Result<int64_t> disk_usage_bytes(const std::string& root_path) {
  auto root = BeneathRoot::open(root_path, workspaces::Links::kWithinRoot);
  if (!root) return root.error();
  int64_t total = 0;
  auto st = workspaces::walk_beneath(root->fd(), "", [&](const WalkEntry& e) {
    if (S_ISREG(e.st.st_mode)) total += e.st.st_size;
    return true;
  });
  if (!st) return st.error();
  return total;
}

}  // namespace isb::file_tools
