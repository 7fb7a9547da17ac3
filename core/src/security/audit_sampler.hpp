// audit_sampler.hpp: keeps a flood of refused requests from flooding the
// audit log.
//
// Refusals (wrong key, lockout, rate limit) cost the client nothing, so each
// one writing a line would let anyone fill the disk. Lines are grouped by a
// key (the gate uses outcome + client address): each group may write
// `threshold` lines at once, then one per second. A line that is written after
// some of its group were held back carries "suppressed": N, the number held
// back; when no further line of the group comes, overdue() hands out the last
// one held back (with the count of those before it) once a second has passed,
// so every refusal is accounted for in the log.
//
//   AuditSampler sampler({.threshold = 20});
//   if (auto line = sampler.offer(key, record, now)) audit_log.record(*line);
//   for (auto& line : sampler.overdue(now)) audit_log.record(line);  // once a second
//
// Memory: at most max_groups groups. When that many are live, groups that
// carry nothing (a full budget and nothing held back) are dropped; if none
// can be, new keys share one overflow group, so a flood from many addresses is
// sampled as a whole rather than growing the table.
//
// Thread-safety: every member is safe from any thread (one mutex).
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "security/audit_log.hpp"

namespace isb::security {

class AuditSampler {
 public:
  using Clock = std::chrono::steady_clock;
  struct Options {
    int64_t threshold = 20;  //!< lines a group writes at once before sampling starts (>= 1)
    size_t max_groups = 4096;
  };

  explicit AuditSampler(Options options);

  //! The line to write now for this event (with "suppressed" set), or
  //! nullopt when it is held back and counted.
  std::optional<AuditRecord> offer(const std::string& key, AuditRecord record, Clock::time_point now);

  //! For each group whose held-back lines waited a second without a later
  //! line written: its last held-back line, carrying the count of the others.
  std::vector<AuditRecord> overdue(Clock::time_point now);

  //! Groups tracked (tests).
  size_t groups() const;

  //! The key that groups share once max_groups are live.
  static constexpr const char* kOverflowKey = "(overflow)";

 private:
  struct Group {
    double tokens;
    Clock::time_point updated;
    int64_t held = 0;       // events held back since the last written line
    AuditRecord last_held;  // the newest of them, written by overdue()
  };
  void refill(Group& g, Clock::time_point now) const;
  Group& group_for(const std::string& key, Clock::time_point now);

  const Options options_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, Group> groups_;
  Clock::time_point last_sweep_{};
};

}  // namespace isb::security
