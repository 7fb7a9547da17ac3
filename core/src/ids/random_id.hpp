// random_id.hpp: the core's one generator of random ids and names: workspace,
// plan and execution ids, staging and temporary file names.
//
//   std::string id = ids::new_id("exec-");  // "exec-3c4d5e6f7a8b"
//   std::string tmp = ".creating-" + id + "-" + ids::random_hex(6);
//
// Not for secrets: a per-thread Mersenne Twister seeded from
// std::random_device. Threading: safe from any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace isb::ids {

//! n random lowercase hex digits.
std::string random_hex(size_t n);
//! prefix followed by 12 random hex digits (48 bits).
std::string new_id(std::string_view prefix);
//! A random number below bound (bound > 0), for names that are tried again
//! on a clash.
uint64_t random_below(uint64_t bound);

}  // namespace isb::ids
