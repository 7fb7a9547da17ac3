// seccomp_filter.hpp: the jail's system-call denylist (docs: ISOLATION.md),
// compiled once per backend instance with libseccomp into a classic BPF
// program that every supervisor loads on itself before running commands.
#pragma once

#include <string>

namespace isb::process {

//! The compiled filter as an array of struct sock_filter. Throws
//! sdk::Error(ISB_UNAVAILABLE, ...) when libseccomp cannot build it.
std::string compile_seccomp_filter();

//! Human-readable summary of what the filter denies, for probe().
const char* seccomp_filter_summary();

}  // namespace isb::process
