// register_all.cpp: the order tools are listed in, and argument accessors.
#include "operations/operations.hpp"

namespace isb::operations {

Status register_all(OperationRegistry& r, const Services& s) {
  for (auto* fn : {&register_workspace_operations, &register_file_operations, &register_analysis_operations, &register_plan_operations,
                   &register_execution_operations, &register_status_operations, &register_resource_operations}) {
    if (auto st = fn(r, s); !st) return st;
  }
  return ok_status();
}

}  // namespace isb::operations
