// engine_access.hpp: what to do when the Docker engine cannot be used, or
// when it does not enforce a protection: the "fix" lines of probe(), which
// `intelligent-sandbox doctor` shows next to each problem.
//
//   doc["fix"] = engine_unreachable_fix("unix:///var/run/docker.sock");
//   add_protection_fixes(protections);  // after the protections are listed
//
// Threading: free functions; they only stat the socket and look up names.
#pragma once

#include <boost/json/array.hpp>

#include <string>

namespace isb::docker {

//! The command that lets this process reach the engine at host (a unix://
//! socket: install or start the engine, or join the socket's group); "" when
//! nothing on this machine would help (a tcp:// engine elsewhere).
std::string engine_unreachable_fix(const std::string& host);

//! Adds "fix" to each protection that is not enforced and that an engine
//! setting would enforce.
void add_protection_fixes(boost::json::array& protections);

}  // namespace isb::docker
