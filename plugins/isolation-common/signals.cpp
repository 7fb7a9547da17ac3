// signals.cpp: see signals.hpp.
#include "isolation-common/signals.hpp"

#include <string.h>

namespace isb::isolation {

std::string signal_name(int sig) {
  const char* abbrev = ::sigabbrev_np(sig);
  std::string name = "SIG";
  name += abbrev ? std::string(abbrev) : std::to_string(sig);
  return name;
}

}  // namespace isb::isolation
