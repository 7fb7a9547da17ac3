// api_keys.hpp: the set of accepted API keys, kept only as SHA-256 hashes.
//
// Entries come from security.api_keys (a key file should hold
// "sha256:<64 hex>" hashes, so the file never contains a usable key) and from
// SANDBOX_API_KEY (a plain key, hashed on load). Presented keys are hashed and
// compared against every entry in constant time, so neither the position of a
// mismatch nor which entry matched shows in the timing.
//
//   auto keys = ApiKeys::from_entries({"sha256:9f86d0...", "plain-key"});
//   if (auto principal = keys->match(presented)) ...  // "key:9f86d081884c"
//
// Thread-safety: immutable after construction; match() is safe from any thread.
#pragma once

#include <array>
#include <cstdint>
#include <isb/core/result.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace isb::security {

class ApiKeys {
 public:
  //! Parses entries; "sha256:" entries must carry exactly 64 hex digits.
  static Result<ApiKeys> from_entries(const std::vector<std::string>& entries);

  bool empty() const { return hashes_.empty(); }
  size_t size() const { return hashes_.size(); }

  //! The principal of the matching key ("key:" + 12 hex digits of its hash,
  //! never the key), or nullopt.
  std::optional<std::string> match(std::string_view presented) const;

 private:
  std::vector<std::array<uint8_t, 32>> hashes_;
};

}  // namespace isb::security
