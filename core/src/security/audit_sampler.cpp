// audit_sampler.cpp: a line budget per group (threshold at once, one per
// second after that) and the count of what was held back.
#include "security/audit_sampler.hpp"

#include <algorithm>

namespace isb::security {

AuditSampler::AuditSampler(Options options)
    : options_{std::max<int64_t>(1, options.threshold), std::max<size_t>(1, options.max_groups)} {}

void AuditSampler::refill(Group& g, Clock::time_point now) const {
  double elapsed = std::chrono::duration<double>(now - g.updated).count();
  if (elapsed > 0) {
    g.tokens = std::min<double>(static_cast<double>(options_.threshold), g.tokens + elapsed);
    g.updated = now;
  }
}

AuditSampler::Group& AuditSampler::group_for(const std::string& key, Clock::time_point now) {
  if (auto it = groups_.find(key); it != groups_.end()) return it->second;
  const double full = static_cast<double>(options_.threshold);
  // A full table is swept at most once a second: a flood from new addresses
  // must not pay for a sweep on every line.
  if (groups_.size() >= options_.max_groups && now - last_sweep_ >= std::chrono::seconds(1)) {
    last_sweep_ = now;
    for (auto it = groups_.begin(); it != groups_.end();) {
      refill(it->second, now);
      bool idle = it->second.held == 0 && it->second.tokens >= full;
      it = idle ? groups_.erase(it) : std::next(it);
    }
  }
  // Still full: the newcomer is sampled with everyone else who did not fit.
  std::string k = groups_.size() >= options_.max_groups ? std::string(kOverflowKey) : key;
  return groups_.try_emplace(std::move(k), Group{full, now, 0, {}}).first->second;
}

std::optional<AuditRecord> AuditSampler::offer(const std::string& key, AuditRecord record,
                                               Clock::time_point now) {
  std::lock_guard<std::mutex> lock(mu_);
  Group& g = group_for(key, now);
  refill(g, now);
  if (g.tokens >= 1.0) {
    g.tokens -= 1.0;
    record.suppressed = g.held;
    g.held = 0;
    g.last_held = {};
    return record;
  }
  ++g.held;
  g.last_held = std::move(record);
  return std::nullopt;
}

std::vector<AuditRecord> AuditSampler::overdue(Clock::time_point now) {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<AuditRecord> out;
  for (auto& [_, g] : groups_) {
    if (g.held == 0) continue;
    refill(g, now);
    if (g.tokens < 1.0) continue;
    g.tokens -= 1.0;
    AuditRecord r = std::move(g.last_held);
    r.suppressed = g.held - 1;  // the line itself is one of the held-back events
    g.held = 0;
    g.last_held = {};
    out.push_back(std::move(r));
  }
  return out;
}

size_t AuditSampler::groups() const {
  std::lock_guard<std::mutex> lock(mu_);
  return groups_.size();
}

}  // namespace isb::security
