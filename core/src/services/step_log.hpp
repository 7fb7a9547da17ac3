// step_log.hpp: one stream of one step: the full output in a log file under
// the state dir (capped, with a note saying so) and the last bytes in memory
// for the history row and the tool result. Memory stays bounded however much
// a command prints. The file is written as output comes, so that readers
// (wait_execution, get_execution_log) see it while the step runs.
//
//   StepLog log(state_dir + "/logs/exec-1/test.stdout.log", 1 << 20, 64 << 10);
//   log.append(bytes, n);   // while the command runs
//   log.finish();           // appends the truncation note when it was capped
//
//   auto fd = open_step_log(state_dir + "/logs", "exec-1", "test", "stdout");
//   auto slice = read_log_since(fd->get(), offset, 16 << 10);  // new output
//
// Threading: a StepLog has one writer and is not thread-safe; the functions
// below may run on any thread, also while the log is written.
#pragma once

#include <isb/core/result.hpp>

#include "workspaces/safe_path.hpp"

#include <cstdint>
#include <cstdio>
#include <string>

namespace isb::services {

//! How much of a step's output is kept in memory, per stream: in its history
//! row and tool result (the full output is in the log file) ...
inline constexpr size_t kStoredTail = 256 * 1024;
//! ... in a history listing ...
inline constexpr size_t kHistoryTail = 4096;
//! ... and in one get_execution_log slice at most.
inline constexpr int64_t kMaxLogSlice = 1024 * 1024;

//! The last limit bytes of s: the end of a log says why a command failed.
inline std::string last_bytes(const std::string& s, size_t limit) {
  return s.size() <= limit ? s : s.substr(s.size() - limit);
}

//! The log file of one stream of one step, opened beneath logs_dir without
//! following any symlink. step_id must be a valid step id (never a path);
//! kNotFound when the step has written no log (yet).
Result<workspaces::UniqueFd> open_step_log(const std::string& logs_dir, const std::string& execution_id,
                                           const std::string& step_id, const std::string& stream);

//! New output of a log: the bytes from offset to the end of what is written
//! now, at most cap of them (the newest), never cutting a UTF-8 character.
struct LogSince {
  std::string text;         //!< valid UTF-8
  int64_t next_offset = 0;  //!< where the next read starts
  int64_t skipped = 0;      //!< bytes after offset left out to stay within cap
};
//! An offset past the end (a retried step starts its log over) reads from 0.
LogSince read_log_since(int fd, int64_t offset, size_t cap);

//! Replaces invalid UTF-8 sequences by U+FFFD: output is stored and sent as text.
std::string sanitize_utf8(const std::string& in);
//! Bytes at the end of buf that start a UTF-8 sequence the buffer cuts off.
size_t incomplete_utf8_suffix(const std::string& buf);

class StepLog {
 public:
  StepLog(std::string path, int64_t file_cap, size_t tail_cap);
  ~StepLog();
  StepLog(const StepLog&) = delete;
  StepLog& operator=(const StepLog&) = delete;

  //! Starts over (a retried step keeps only its last attempt's output).
  void reset();
  void append(const char* bytes, size_t len);
  //! Closes the file, adding a note when bytes were dropped; also call it
  //! when the backend reports it dropped output itself.
  void finish(bool backend_truncated);

  const std::string& path() const { return path_; }
  const std::string& tail() const { return tail_; }
  int64_t total_bytes() const { return total_; }
  int64_t written_bytes() const { return written_; }
  bool truncated() const { return truncated_; }
  //! Empty when the file could not be written (the reason otherwise).
  const std::string& error() const { return error_; }

 private:
  std::string path_;
  int64_t file_cap_;
  size_t tail_cap_;
  std::FILE* f_ = nullptr;
  std::string tail_;
  int64_t total_ = 0;
  int64_t written_ = 0;
  bool truncated_ = false;
  std::string error_;
};

}  // namespace isb::services
