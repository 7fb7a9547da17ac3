// rate_limiter.hpp: token buckets, one per API key or client.
//
// A bucket holds at most `burst` tokens and refills at requests_per_minute/60
// tokens per second; a request takes one token or is refused with the time
// until the next token. The defaults (60 per minute, burst 10) are the seed's.
//
//   RateLimiter limiter(60, 10);
//   auto d = limiter.take("key:9f86d081884c", std::chrono::steady_clock::now());
//   if (!d.allowed) reply_429(d.retry_after_s);
//
// Thread-safety: take() is safe from any thread (one mutex).
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>

namespace isb::security {

class RateLimiter {
 public:
  using Clock = std::chrono::steady_clock;

  struct Decision {
    bool allowed = true;
    int64_t retry_after_s = 0;  // whole seconds, >= 1 when refused
  };

  RateLimiter(int64_t requests_per_minute, int64_t burst);

  Decision take(const std::string& bucket, Clock::time_point now);

  int64_t requests_per_minute() const { return per_minute_; }
  int64_t burst() const { return burst_; }

 private:
  struct Bucket {
    double tokens;
    Clock::time_point updated;
  };
  // Buckets that have refilled completely carry no information; they are
  // dropped when the map grows past this, so many clients cannot exhaust memory.
  static constexpr size_t kMaxBuckets = 10000;

  void refill(Bucket& b, Clock::time_point now) const;

  int64_t per_minute_;
  int64_t burst_;
  std::mutex mu_;
  std::map<std::string, Bucket> buckets_;
};

}  // namespace isb::security
