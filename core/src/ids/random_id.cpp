// random_id.cpp: random ids from a per-thread generator.
#include "ids/random_id.hpp"

#include <random>

namespace isb::ids {
namespace {

std::mt19937_64& generator() {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  return rng;
}

}  // namespace

std::string random_hex(size_t n) {
  static const char* kHex = "0123456789abcdef";
  std::string s;
  s.reserve(n);
  for (size_t i = 0; i < n; ++i) s += kHex[generator()() % 16];
  return s;
}

std::string new_id(std::string_view prefix) { return std::string(prefix) + random_hex(12); }

uint64_t random_below(uint64_t bound) { return generator()() % bound; }

}  // namespace isb::ids
