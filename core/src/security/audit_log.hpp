// audit_log.hpp: the append-only JSONL audit log (security.audit_log_path).
//
// One line per operation call or refused request:
//   {"time":"2026-11-26T12:00:00.123Z","principal":"key:9f86d081884c",
//    "transport":"mcp-http","client_id":"...","operation":"exec_command",
//    "args_sha256":"...","outcome":"ok","duration_ms":12.5}
// The arguments are recorded only as a digest: they may carry secrets.
//
// Thread-safety: record() is safe from any thread; each line is one write(2)
// on an O_APPEND descriptor, so lines from several processes never interleave.
#pragma once

#include <isb/core/result.hpp>
#include <memory>
#include <string>

namespace isb::security {

struct AuditRecord {
  std::string principal;
  std::string transport;
  std::string client_id;
  std::string operation;
  std::string args_sha256;
  std::string outcome;  // "ok", "error:<code>", "denied:unauthenticated", "denied:rate_limited"
  double duration_ms = 0;
};

class AuditLog {
 public:
  //! Opens (creating it and its directory, mode 0600) the log for appending.
  static Result<std::unique_ptr<AuditLog>> open(const std::string& path);
  ~AuditLog();
  AuditLog(const AuditLog&) = delete;
  AuditLog& operator=(const AuditLog&) = delete;

  //! Appends one line. Returns false when the write failed (disk full, ...).
  bool record(const AuditRecord& r);

  const std::string& path() const { return path_; }

 private:
  AuditLog(std::string path, int fd) : path_(std::move(path)), fd_(fd) {}
  std::string path_;
  int fd_;
};

}  // namespace isb::security
