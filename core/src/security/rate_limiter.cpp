// rate_limiter.cpp: token buckets keyed by principal or client.
#include "security/rate_limiter.hpp"

#include <algorithm>
#include <cmath>

namespace isb::security {

RateLimiter::RateLimiter(int64_t requests_per_minute, int64_t burst)
    : per_minute_(std::max<int64_t>(1, requests_per_minute)), burst_(std::max<int64_t>(1, burst)) {}

void RateLimiter::refill(Bucket& b, Clock::time_point now) const {
  double elapsed = std::chrono::duration<double>(now - b.updated).count();
  if (elapsed > 0) {
    b.tokens = std::min<double>(static_cast<double>(burst_), b.tokens + elapsed * per_minute_ / 60.0);
    b.updated = now;
  }
}

RateLimiter::Decision RateLimiter::take(const std::string& bucket, Clock::time_point now) {
  std::lock_guard<std::mutex> lock(mu_);
  if (buckets_.size() >= kMaxBuckets && !buckets_.count(bucket)) {
    for (auto it = buckets_.begin(); it != buckets_.end();) {
      refill(it->second, now);
      it = it->second.tokens >= static_cast<double>(burst_) ? buckets_.erase(it) : std::next(it);
    }
  }
  auto [it, inserted] = buckets_.try_emplace(bucket, Bucket{static_cast<double>(burst_), now});
  Bucket& b = it->second;
  refill(b, now);
  if (b.tokens >= 1.0) {
    b.tokens -= 1.0;
    return {true, 0};
  }
  double wait_s = (1.0 - b.tokens) * 60.0 / static_cast<double>(per_minute_);
  return {false, std::max<int64_t>(1, static_cast<int64_t>(std::ceil(wait_s)))};
}

}  // namespace isb::security
