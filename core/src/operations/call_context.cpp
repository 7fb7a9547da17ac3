// call_context.cpp: the event shapes a CallContext emits.
#include <isb/core/call_context.hpp>

namespace isb {

void CallContext::progress(double progress, double total, const std::string& message) const {
  boost::json::object e{{"type", "progress"}, {"progress", progress}, {"message", message}};
  if (total > 0) e["total"] = total;
  emit(e);
}

void CallContext::output(int32_t stream, std::string_view data) const {
  emit(
      boost::json::object{{"type", "output"}, {"stream", stream == 2 ? "stderr" : "stdout"}, {"data", data}});
}

}  // namespace isb
