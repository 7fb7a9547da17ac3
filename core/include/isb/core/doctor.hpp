// doctor.hpp: what this host gives the server, against what its configuration
// asks: `intelligent-sandbox doctor`. For each isolation backend, every
// protection (enforced or not, and why); what security.level needs and what is
// missing; the config file and the state directories with their owners and
// modes; the Docker engine and its API version; free space in the base dir;
// how disk_mb is held. Every problem carries the command or setting that
// fixes it.
//
//   auto report = isb::doctor::examine(config, {.plugin_dirs = dirs});
//   std::cout << isb::doctor::render_text(report);   // or serialize(report.doc)
//   return report.ok ? 0 : 1;
//
// It starts no server: it opens no store and creates no directory. Backends
// are instantiated and probed as the server would (the process backend builds
// one trial jail when root).
#pragma once

#include <isb/core/config.hpp>

#include <boost/json/object.hpp>

#include <string>
#include <vector>

namespace isb::doctor {

struct Options {
  //! Plugin directories searched before plugins.directories and the built-in ones.
  std::vector<std::string> plugin_dirs;
  //! Only plugin_dirs (tests): neither plugins.directories nor the built-in ones.
  bool only_plugin_dirs = false;
};

struct Report {
  //! The whole report (the --json document); "problems" lists
  //! {"severity":"error"|"warning","what","fix"}.
  boost::json::object doc;
  //! No problem of severity error: every protection security.level needs is
  //! enforced by the backend new workspaces use, and the state can be written.
  bool ok = false;
};

Report examine(const Config& config, const Options& options);

//! The report for a terminal: every section, then the problems with their fixes.
std::string render_text(const Report& report);
//! A few lines: the verdict and each problem with its fix (make run shows it).
std::string render_summary(const Report& report);

}  // namespace isb::doctor
