// api_keys.cpp: hashed API keys with constant-time comparison.
#include "security/api_keys.hpp"

#include "security/sha256.hpp"

namespace isb::security {
namespace {

constexpr std::string_view kHashPrefix = "sha256:";

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string hex_prefix(const std::array<uint8_t, 32>& h, size_t bytes) {
  static const char* kHex = "0123456789abcdef";
  std::string s;
  for (size_t i = 0; i < bytes; ++i) {
    s.push_back(kHex[h[i] >> 4]);
    s.push_back(kHex[h[i] & 15]);
  }
  return s;
}

}  // namespace

Result<ApiKeys> ApiKeys::from_entries(const std::vector<std::string>& entries) {
  ApiKeys keys;
  for (size_t i = 0; i < entries.size(); ++i) {
    const std::string& e = entries[i];
    std::array<uint8_t, 32> h{};
    if (e.rfind(kHashPrefix, 0) == 0) {
      std::string_view hex = std::string_view(e).substr(kHashPrefix.size());
      bool ok = hex.size() == 64;
      for (size_t j = 0; ok && j < 32; ++j) {
        int hi = hex_value(hex[2 * j]), lo = hex_value(hex[2 * j + 1]);
        ok = hi >= 0 && lo >= 0;
        if (ok) h[j] = static_cast<uint8_t>(hi * 16 + lo);
      }
      if (!ok) {
        return make_error(ErrorCode::kInvalidConfig,
                          "security.api_keys[" + std::to_string(i) +
                              "]: a \"sha256:\" entry needs exactly 64 hex digits; compute one with "
                              "`printf %s KEY | sha256sum`");
      }
    } else {
      if (e.size() < 16) {
        return make_error(ErrorCode::kInvalidConfig,
                          "security.api_keys[" + std::to_string(i) +
                              "]: an API key must be at least 16 characters long; generate one with "
                              "`openssl rand -hex 32`");
      }
      h = sha256(e);
    }
    keys.hashes_.push_back(h);
  }
  return keys;
}

std::optional<std::string> ApiKeys::match(std::string_view presented) const {
  if (presented.empty() || hashes_.empty()) return std::nullopt;
  std::array<uint8_t, 32> h = sha256(presented);
  // Every entry is compared in full, whatever matched before.
  size_t found = hashes_.size();
  for (size_t i = 0; i < hashes_.size(); ++i) {
    uint8_t diff = 0;
    for (size_t j = 0; j < 32; ++j) diff |= static_cast<uint8_t>(h[j] ^ hashes_[i][j]);
    size_t is_match = static_cast<size_t>(diff == 0);
    found = is_match * i + (1 - is_match) * found;
  }
  if (found == hashes_.size()) return std::nullopt;
  return "key:" + hex_prefix(hashes_[found], 6);
}

}  // namespace isb::security
