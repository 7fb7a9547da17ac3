// config.hpp: the instance configuration of the process backend.
#pragma once

#include <cstdint>
#include <string>

namespace isb::process {

struct Config {
  //! Time between SIGTERM and SIGKILL when a command is stopped.
  int64_t kill_grace_ms = 2000;
};

//! JSON Schema (draft-07) of the config; describes exactly what parse_config accepts.
extern const char* const kConfigSchema;

//! Parses config_json; throws Error(ISB_INVALID_CONFIG, ...) naming the bad key.
Config parse_config(const std::string& config_json);

}  // namespace isb::process
