// sha256.hpp: SHA-256 (FIPS 180-4) for API key hashes and audit argument
// digests. Written here from the standard so the core needs no crypto library.
//
//   std::string hex = isb::security::sha256_hex("abc");  // "ba7816bf..."
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace isb::security {

//! The 32-byte digest of data.
std::array<uint8_t, 32> sha256(std::string_view data);

//! The digest as 64 lower-case hex characters.
std::string sha256_hex(std::string_view data);

}  // namespace isb::security
