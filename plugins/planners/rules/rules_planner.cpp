// rules_planner.cpp: the "rules" planner plugin: SDK glue around build_plan.
#include "plan_builder.hpp"

#include <isb/sdk/plugin.hpp>

#include <boost/json.hpp>

namespace isb::planner {
namespace {

class RulesPlanner : public sdk::Planner {
 public:
  static sdk::PluginInfo info() {
    return {"rules",
            "Rule-based planner",
            "0.1.0",
            "Maps the intents of a task (install, build, format, lint, test, run, `commands`) to the commands "
            "the analysis found; never invents commands.",
            R"({"$schema":"http://json-schema.org/draft-07/schema#","type":"object","additionalProperties":false,"properties":{}})",
            0};
  }

  RulesPlanner(sdk::Host host, const std::string& config_json) : host_(host) {
    boost::system::error_code ec;
    boost::json::value v = boost::json::parse(config_json.empty() ? "{}" : config_json, ec);
    if (ec || !v.is_object()) throw sdk::Error(ISB_INVALID_CONFIG, "the rules planner config must be a JSON object");
    for (const auto& [key, value] : v.as_object()) {
      throw sdk::Error(ISB_INVALID_CONFIG,
                       "unknown config key '" + std::string(key) + "' (the rules planner takes no settings)");
    }
  }

  std::string plan(const std::string& request_json) override { return build_plan(request_json); }

 private:
  sdk::Host host_;
};

}  // namespace
}  // namespace isb::planner

ISB_PLUGIN(isb::planner::RulesPlanner)
