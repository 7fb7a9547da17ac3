// auth_backoff.cpp: failure counts and doubling lockouts per client address.
#include "security/auth_backoff.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <cstring>

namespace isb::security {

std::string address_group(std::string_view address) {
  std::string a(address);
  in_addr v4{};
  if (inet_pton(AF_INET, a.c_str(), &v4) == 1) return a;
  in6_addr v6{};
  if (inet_pton(AF_INET6, a.c_str(), &v6) != 1) return a;
  char text[INET6_ADDRSTRLEN] = {};
  if (IN6_IS_ADDR_V4MAPPED(&v6)) {
    std::memcpy(&v4, &v6.s6_addr[12], 4);
    inet_ntop(AF_INET, &v4, text, sizeof text);
    return text;
  }
  if (IN6_IS_ADDR_LOOPBACK(&v6)) return "::1";
  std::memset(&v6.s6_addr[8], 0, 8);
  inet_ntop(AF_INET6, &v6, text, sizeof text);
  return std::string(text) + "/64";
}

AuthBackoff::AuthBackoff(Options options)
    : options_{std::max<int64_t>(1, options.threshold), std::max<int64_t>(1, options.backoff_max_s),
               std::max<int64_t>(1, options.reset_after_s), std::max<size_t>(1, options.max_addresses)} {}

void AuthBackoff::forget_if_stale(Entry& e, Clock::time_point now) const {
  if (e.failures > 0 && now >= e.locked_until &&
      now - e.last_failure >= std::chrono::seconds(options_.reset_after_s)) {
    e = Entry{};
  }
}

AuthBackoff::Entry* AuthBackoff::find(const std::string& address, Clock::time_point now, bool create) {
  if (auto it = entries_.find(address); it != entries_.end()) return &it->second;
  // A full table is swept at most once a second, so that a flood from new
  // addresses does not pay for a sweep on every request.
  if (entries_.size() >= options_.max_addresses && now - last_sweep_ >= std::chrono::seconds(1)) {
    last_sweep_ = now;
    for (auto it = entries_.begin(); it != entries_.end();) {
      forget_if_stale(it->second, now);
      it = it->second.failures == 0 ? entries_.erase(it) : std::next(it);
    }
  }
  if (entries_.size() >= options_.max_addresses) {
    // Fail closed: whoever does not fit is judged with the others who did not.
    auto it = entries_.find(kOverflowKey);
    if (it == entries_.end()) it = entries_.try_emplace(kOverflowKey).first;
    return &it->second;
  }
  if (!create) return nullptr;
  return &entries_.try_emplace(address).first->second;
}

int64_t AuthBackoff::locked_for_locked(const std::string& address, Clock::time_point now) {
  Entry* e = find(address, now, false);
  if (!e || now >= e->locked_until) return 0;
  auto left = std::chrono::ceil<std::chrono::seconds>(e->locked_until - now).count();
  return std::max<int64_t>(1, left);
}

int64_t AuthBackoff::record_failure_locked(const std::string& address, Clock::time_point now) {
  Entry* e = find(address, now, true);
  forget_if_stale(*e, now);
  e->failures += 1;
  e->last_failure = now;
  if (e->failures < options_.threshold) return 0;
  // 1 s at the threshold, doubling with each further failure; the shift is
  // capped well before it could overflow.
  int64_t doublings = std::min<int64_t>(e->failures - options_.threshold, 32);
  int64_t lockout = std::min<int64_t>(options_.backoff_max_s, int64_t{1} << doublings);
  e->locked_until = now + std::chrono::seconds(lockout);
  return lockout;
}

AuthBackoff::Verdict AuthBackoff::attempt(const std::string& address, bool key_ok, Clock::time_point now) {
  std::lock_guard<std::mutex> lock(mu_);
  Verdict v;
  v.locked_for_s = locked_for_locked(address, now);
  if (v.locked_for_s == 0 && !key_ok) v.lockout_s = record_failure_locked(address, now);
  return v;
}

int64_t AuthBackoff::locked_for(const std::string& address, Clock::time_point now) {
  std::lock_guard<std::mutex> lock(mu_);
  return locked_for_locked(address, now);
}

int64_t AuthBackoff::record_failure(const std::string& address, Clock::time_point now) {
  std::lock_guard<std::mutex> lock(mu_);
  return record_failure_locked(address, now);
}

int64_t AuthBackoff::failures(const std::string& address, Clock::time_point now) {
  std::lock_guard<std::mutex> lock(mu_);
  Entry* e = find(address, now, false);
  if (!e) return 0;
  forget_if_stale(*e, now);
  return e->failures;
}

}  // namespace isb::security
