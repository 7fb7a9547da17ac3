// signals.hpp: the name a result gives a signal ("SIGKILL"), one rule for
// every isolation backend.
#pragma once

#include <string>

namespace isb::isolation {

//! "SIG" + the signal's abbreviation (SIGKILL, SIGSEGV); "SIG<n>" for a number
//! the C library has no name for.
std::string signal_name(int sig);

}  // namespace isb::isolation
