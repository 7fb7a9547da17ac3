// plan_builder.hpp: turns a plan request into the plan document.
#pragma once

#include <string>

namespace isb::planner {

//! Builds the plan for request_json ({"task","analysis","options"}).
//! Throws isb::sdk::Error: ISB_INVALID_ARGUMENT for a malformed request,
//! ISB_NOT_SUPPORTED when the task names no intent this planner knows.
std::string build_plan(const std::string& request_json);

}  // namespace isb::planner
