// archive_ops.cpp: see archive_ops.hpp.
#include "archive_ops.hpp"

#include <archive.h>
#include <archive_entry.h>

#include <algorithm>
#include <filesystem>
#include <memory>

#include "isolation-common/json_fields.hpp"

namespace isb::docker {

using isolation::as_int;
using isolation::invalid;
namespace {

namespace json = boost::json;

// Beyond this a file belongs in the workspace directory, not in a request.
constexpr size_t kMaxPutBytes = 32u << 20;

bool decode_base64(const std::string& in, std::string* out) {
  auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  out->clear();
  uint32_t acc = 0;
  int bits = 0;
  size_t i = 0;
  for (; i < in.size() && in[i] != '='; ++i) {
    int v = value(in[i]);
    if (v < 0) return false;
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out->push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  for (; i < in.size(); ++i) {
    if (in[i] != '=') return false;
  }
  return true;
}

std::string short_id(const std::string& id) { return id.substr(0, 12); }

[[noreturn]] void archive_failed(const std::string& container_id, const ArchiveOp& op,
                                 const EngineClient::Response& r) {
  std::string msg = engine_message(r.body);
  if (r.status == 404 && msg.find("No such container") != std::string::npos) {
    throw sdk::Error(ISB_NOT_FOUND,
                     "workspace sandbox is gone: container " + short_id(container_id) +
                         " no longer exists (" + msg +
                         "); it was removed outside the server: destroy and re-create the workspace");
  }
  if (r.status == 404) {
    throw sdk::Error(ISB_NOT_FOUND,
                     op.op + ": '" + op.path + "' does not exist in the container as the engine sees it (" +
                         msg +
                         "); the archive endpoint reaches the image's files and /workspace, not tmpfs mounts "
                         "such as /tmp");
  }
  if (r.status == 403 || msg.find("read-only") != std::string::npos) {
    throw sdk::Error(ISB_NOT_SUPPORTED, op.op + " into '" + op.path + "' refused by the engine (" + msg +
                                            "): the container's root filesystem is read-only; put files "
                                            "under /workspace");
  }
  throw sdk::Error(
      r.status == 400 ? ISB_INVALID_ARGUMENT : ISB_ERROR,
      op.op + " of '" + op.path + "' failed with engine status " + std::to_string(r.status) + ": " + msg);
}

}  // namespace

ArchiveOp parse_archive_op(const json::object& spec) {
  ArchiveOp op;
  for (const auto& [key, value] : spec) {
    if (key == "op") {
      op.op = value.is_string() ? std::string(value.as_string()) : "";
      if (op.op != "copy_out" && op.op != "copy_in") invalid("op must be \"copy_out\" or \"copy_in\"");
    } else if (key == "path") {
      if (!value.is_string()) invalid("path must be a string (an absolute path in the container)");
      op.path = std::string(value.as_string());
    } else if (key == "files") {
      if (!value.is_array() || value.as_array().empty()) invalid("files must be a non-empty array");
      size_t total = 0;
      for (const auto& f : value.as_array()) {
        if (!f.is_object())
          invalid("each of files must be an object {name, content | content_base64, mode?}");
        PutFile pf;
        bool have_content = false;
        for (const auto& [k, v] : f.as_object()) {
          if (k == "name" && v.is_string()) {
            pf.name = std::string(v.as_string());
          } else if (k == "content" && v.is_string() && !have_content) {
            pf.content = std::string(v.as_string());
            have_content = true;
          } else if (k == "content_base64" && v.is_string() && !have_content) {
            if (!decode_base64(std::string(v.as_string()), &pf.content))
              invalid("files: content_base64 of '" + pf.name + "' is not valid base64");
            have_content = true;
          } else if (k == "mode") {
            auto m = as_int(v);
            if (!m || *m < 0 || *m > 07777) invalid("files: mode must be an integer from 0 to 4095 (07777)");
            pf.mode = static_cast<uint32_t>(*m);
          } else {
            invalid("files: unexpected member '" + std::string(k) +
                    "' (known: name, content or content_base64, mode)");
          }
        }
        if (!have_content) invalid("files: '" + pf.name + "' needs content or content_base64");
        std::filesystem::path p(pf.name);
        bool escapes = pf.name.empty() || p.is_absolute() || pf.name.find('\0') != std::string::npos ||
                       std::any_of(p.begin(), p.end(), [](const auto& part) { return part == ".."; });
        if (escapes) invalid("files: name '" + pf.name + "' must be a relative path without '..'");
        total += pf.content.size();
        if (total > kMaxPutBytes)
          invalid("files: more than 32 MiB in one copy_in; copy larger trees into the workspace");
        op.files.push_back(std::move(pf));
      }
    } else {
      invalid("unknown member '" + std::string(key) + "' of a file operation (known: op, path, files)");
    }
  }
  if (op.path.empty() || op.path[0] != '/' || op.path.find('\0') != std::string::npos)
    invalid(op.op + " needs path, an absolute path in the container");
  if (op.op == "copy_in" && op.files.empty()) invalid("copy_in needs files");
  if (op.op == "copy_out" && !op.files.empty()) invalid("copy_out takes no files");
  return op;
}

std::string build_tar(const std::vector<PutFile>& files) {
  std::string out;
  std::unique_ptr<struct archive, int (*)(struct archive*)> a(archive_write_new(), archive_write_free);
  archive_write_set_format_pax_restricted(a.get());
  auto write_cb = [](struct archive*, void* user, const void* buf, size_t n) -> la_ssize_t {
    static_cast<std::string*>(user)->append(static_cast<const char*>(buf), n);
    return static_cast<la_ssize_t>(n);
  };
  // Unblocked output: the engine reads a stream, not a tape.
  archive_write_set_bytes_in_last_block(a.get(), 1);
  if (archive_write_open(a.get(), &out, nullptr, write_cb, nullptr) != ARCHIVE_OK)
    throw sdk::Error(ISB_ERROR, std::string("libarchive: ") + archive_error_string(a.get()));
  for (const auto& f : files) {
    std::unique_ptr<struct archive_entry, void (*)(struct archive_entry*)> e(archive_entry_new(),
                                                                             archive_entry_free);
    archive_entry_set_pathname(e.get(), f.name.c_str());
    archive_entry_set_filetype(e.get(), AE_IFREG);
    archive_entry_set_perm(e.get(), f.mode);
    archive_entry_set_size(e.get(), static_cast<la_int64_t>(f.content.size()));
    if (archive_write_header(a.get(), e.get()) != ARCHIVE_OK ||
        archive_write_data(a.get(), f.content.data(), f.content.size()) < 0) {
      throw sdk::Error(ISB_ERROR,
                       "libarchive could not pack '" + f.name + "': " + archive_error_string(a.get()));
    }
  }
  if (archive_write_close(a.get()) != ARCHIVE_OK)
    throw sdk::Error(ISB_ERROR, std::string("libarchive: ") + archive_error_string(a.get()));
  return out;
}

json::array list_tar(const std::string& tar) {
  json::array entries;
  std::unique_ptr<struct archive, int (*)(struct archive*)> a(archive_read_new(), archive_read_free);
  archive_read_support_format_tar(a.get());
  if (archive_read_open_memory(a.get(), tar.data(), tar.size()) != ARCHIVE_OK)
    throw sdk::Error(ISB_ERROR,
                     std::string("the engine's archive is not a tar: ") + archive_error_string(a.get()));
  struct archive_entry* e = nullptr;
  int rc;
  while ((rc = archive_read_next_header(a.get(), &e)) == ARCHIVE_OK) {
    const char* type = "other";
    switch (archive_entry_filetype(e)) {
      case AE_IFREG:
        type = "file";
        break;
      case AE_IFDIR:
        type = "dir";
        break;
      case AE_IFLNK:
        type = "symlink";
        break;
      default:
        break;
    }
    json::object entry{{"name", archive_entry_pathname(e) ? archive_entry_pathname(e) : ""},
                       {"type", type},
                       {"size", static_cast<int64_t>(archive_entry_size(e))},
                       {"mode", static_cast<int64_t>(archive_entry_perm(e))}};
    if (archive_entry_filetype(e) == AE_IFLNK && archive_entry_symlink(e))
      entry["target"] = archive_entry_symlink(e);
    entries.push_back(std::move(entry));
    archive_read_data_skip(a.get());
  }
  if (rc != ARCHIVE_EOF)
    throw sdk::Error(ISB_ERROR,
                     std::string("the engine's archive is damaged: ") + archive_error_string(a.get()));
  return entries;
}

std::string run_archive_op(const EngineClient& engine, const std::string& container_id, const ArchiveOp& op,
                           const sdk::OutputSink& sink) {
  std::string target = "/containers/" + container_id + "/archive?path=" + url_encode(op.path);
  if (op.op == "copy_out") {
    auto r = engine.request("GET", target);
    if (r.status != 200) archive_failed(container_id, op, r);
    json::array entries = list_tar(r.body);
    for (size_t off = 0; off < r.body.size(); off += 65536) {
      sink.write(ISB_STREAM_STDOUT, r.body.data() + off, std::min<size_t>(65536, r.body.size() - off));
    }
    return json::serialize(json::object{{"op", op.op},
                                        {"path", op.path},
                                        {"archive_bytes", static_cast<int64_t>(r.body.size())},
                                        {"entries", std::move(entries)}});
  }
  std::string tar = build_tar(op.files);
  auto r = engine.request("PUT", target, tar, std::chrono::milliseconds(0), "application/x-tar");
  if (r.status != 200) archive_failed(container_id, op, r);
  return json::serialize(json::object{{"op", op.op},
                                      {"path", op.path},
                                      {"files", static_cast<int64_t>(op.files.size())},
                                      {"archive_bytes", static_cast<int64_t>(tar.size())}});
}

}  // namespace isb::docker
