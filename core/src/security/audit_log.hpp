// audit_log.hpp: the append-only JSONL audit log (security.audit_log_path).
//
// One line per operation call or refused request:
//   {"time":"2026-11-26T12:00:00.123Z","principal":"key:9f86d081884c",
//    "transport":"mcp-http","client_id":"...","client_address":"127.0.0.1",
//    "operation":"exec_command","args_sha256":"...","outcome":"ok","duration_ms":12.5}
// The arguments are recorded only as a digest: they may carry secrets. A line
// that stands for several like events (see audit_sampler.hpp) also carries
// "suppressed": N, the number of them that were not written.
//
// The file rotates by size like the main log: when a line would take it past
// max_bytes it becomes <path>.1 (the older ones <path>.2 ... up to
// backup_count, the oldest dropped) and a new file is started. reopen() closes
// and opens the path again, for an external logrotate followed by SIGHUP.
//
//   auto log = AuditLog::open("/var/log/isb/audit.log", {.max_bytes = 100 << 20, .backup_count = 5});
//   (*log)->record(record);
//   (*log)->reopen();  // after `mv audit.log audit.log.old`
//
// Thread-safety: record() and reopen() are safe from any thread (one mutex).
// Each line is one write(2) on an O_APPEND descriptor, so lines never
// interleave, even with another process appending to the same file (which
// then makes the size-based rotation approximate: it counts only this
// process's lines between two checks of the file's size).
#pragma once

#include <chrono>
#include <cstdint>
#include <isb/core/result.hpp>
#include <memory>
#include <mutex>
#include <string>

namespace isb::security {

struct AuditRecord {
  std::string principal;
  std::string transport;
  std::string client_id;
  std::string client_address;  // network peer; empty for transports without one (stdio)
  std::string operation;
  std::string args_sha256;
  std::string outcome;  // "ok", "error:<code>", "denied:unauthenticated", "denied:auth_backoff",
                        // "denied:rate_limited"
  double duration_ms = 0;
  //! When the event happened; the epoch (default) means "when it is written".
  std::chrono::system_clock::time_point time{};
  //! Like events before this one that were not written (sampling); 0: none.
  int64_t suppressed = 0;
};

struct AuditRotation {
  //! Size at which the file is rotated; 0 never rotates.
  uint64_t max_bytes = 100ull << 20;
  //! Rotated files kept (<path>.1 is the newest); 0 starts the file afresh.
  int64_t backup_count = 5;
};

class AuditLog {
 public:
  //! Opens (creating it and its directory, mode 0600) the log for appending.
  static Result<std::unique_ptr<AuditLog>> open(const std::string& path, AuditRotation rotation = {});
  ~AuditLog();
  AuditLog(const AuditLog&) = delete;
  AuditLog& operator=(const AuditLog&) = delete;

  //! Appends one line, rotating first when it would not fit. Returns false
  //! when the write failed (disk full, ...).
  bool record(const AuditRecord& r);

  //! Closes the file and opens the path again (creating it), so that lines go
  //! to a new file after the old one was moved away. On failure the old
  //! descriptor stays in use and the error says why.
  Status reopen();

  const std::string& path() const { return path_; }

 private:
  AuditLog(std::string path, AuditRotation rotation, int fd, uint64_t size)
      : path_(std::move(path)), rotation_(rotation), fd_(fd), size_(size) {}
  //! Moves the files one generation up and starts a new one when incoming
  //! bytes would take the file past max_bytes; mu_ held.
  void rotate_locked(uint64_t incoming);
  static int open_fd(const std::string& path, uint64_t* size, std::string* error);

  const std::string path_;
  const AuditRotation rotation_;
  std::mutex mu_;
  int fd_;
  uint64_t size_;  // bytes in the file as far as this process knows
};

}  // namespace isb::security
