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

std::string arg_string(const boost::json::object& args, const char* key, const std::string& fallback) {
  auto* v = args.if_contains(key);
  return v && v->is_string() ? std::string(v->as_string()) : fallback;
}

int64_t arg_int(const boost::json::object& args, const char* key, int64_t fallback) {
  auto* v = args.if_contains(key);
  if (!v) return fallback;
  if (v->is_int64()) return v->as_int64();
  if (v->is_uint64()) return static_cast<int64_t>(v->as_uint64());
  if (v->is_double()) return static_cast<int64_t>(v->as_double());
  return fallback;
}

bool arg_bool(const boost::json::object& args, const char* key, bool fallback) {
  auto* v = args.if_contains(key);
  return v && v->is_bool() ? v->as_bool() : fallback;
}

}  // namespace isb::operations
