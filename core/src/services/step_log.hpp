// step_log.hpp: one stream of one step: the full output in a log file under
// the state dir (capped, with a note saying so) and the last bytes in memory
// for the history row and the tool result. Memory stays bounded however much
// a command prints.
//
//   StepLog log(state_dir + "/logs/exec-1/test.stdout.log", 1 << 20, 64 << 10);
//   log.append(bytes, n);   // while the command runs
//   log.finish();           // appends the truncation note when it was capped
//
// Threading: one writer; not thread-safe.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>

namespace isb::services {

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
