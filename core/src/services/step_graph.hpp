// step_graph.hpp: the one place where plan steps are checked and given their
// defaults, whether a planner plugin or the client wrote them, so that every
// stored plan has the same shape and the executor can trust it.
//
//   auto steps = normalize_steps(raw, "explicit");
//   if (!steps) return steps.error();   // names the step and the field
//   auto order = topological_order(*steps);
//
// Threading: pure functions.
#pragma once

#include <isb/core/result.hpp>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include <string>
#include <vector>

namespace isb::services {

//! Limits a step may ask for.
inline constexpr int64_t kMaxStepTimeoutS = 86400;
inline constexpr int64_t kMaxAttempts = 10;
inline constexpr int64_t kMaxBackoffMs = 60000;
inline constexpr size_t kMaxSteps = 200;
inline constexpr size_t kMaxProvenanceBytes = 16 * 1024;

//! A step id: 1-64 characters from A-Z a-z 0-9 - _ . (never a path).
bool is_valid_step_id(const std::string& id);

//! Validates steps and fills defaults. Each normalized step has: id, title,
//! phase, argv or shell, cwd, env, timeout_s (int or null), depends_on,
//! retryable, retry {attempts, backoff_ms}, continue_on_error, artifacts,
//! provenance. A client step may give "command" (a string is a shell line,
//! an array is argv) and "name" for the title. Refuses duplicate ids, unknown
//! dependencies and cycles, naming the steps involved. default_source fills
//! provenance.source when the step has no provenance.
Result<boost::json::array> normalize_steps(const boost::json::array& steps, const std::string& default_source);

//! Step indexes in an order where every step comes after its dependencies
//! (steps must be normalized).
std::vector<size_t> topological_order(const boost::json::array& steps);

//! The command of a normalized step as it is recorded: {"argv"} or {"shell"}.
boost::json::object step_command(const boost::json::object& step);

}  // namespace isb::services
