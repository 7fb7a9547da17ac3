// host_context.hpp: what isb_host_api.host_ctx points at for one plugin
// instance. Private to the core: the plugin host owns one per instance, and
// the host API's trampolines (host_api/host_api.cpp) read it back.
#pragma once

#include <string>

namespace isb {

class HostApi;

struct HostContext {
  std::string plugin_id;
  //! The front door a transport calls back into; null for other kinds.
  const HostApi* front_door = nullptr;
};

}  // namespace isb
