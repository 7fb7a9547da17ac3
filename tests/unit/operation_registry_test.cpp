// operation_registry_test.cpp: the operation catalogue: argument validation
// against the input schema, result validation against the output schema,
// listing order and annotations, and refusal of duplicates.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <isb/core/operation_registry.hpp>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <string>
#include <utility>
#include <vector>

namespace isb {
namespace {

using ::testing::HasSubstr;
namespace json = boost::json;

const char* kInput = R"({
  "type": "object",
  "additionalProperties": false,
  "required": ["workspace_id"],
  "properties": {
    "workspace_id": {"type": "string"},
    "timeout_s": {"type": "integer", "minimum": 1}
  }
})";
const char* kOutput = R"({
  "type": "object",
  "required": ["pong"],
  "properties": {"pong": {"type": "string"}}
})";

// An operation that answers {"pong": <workspace_id>}, or what `reply` says.
OperationSpec ping(const std::string& name, int* calls = nullptr, json::value reply = nullptr) {
  OperationSpec s;
  s.name = name;
  s.title = "Ping " + name;
  s.description = "Answers with the workspace id";
  s.input_schema = kInput;
  s.output_schema = kOutput;
  s.handler = [calls, reply](const json::object& args, CallContext&) -> Result<json::value> {
    if (calls) ++*calls;
    if (!reply.is_null()) return reply;
    return json::value(json::object{{"pong", args.at("workspace_id")}});
  };
  return s;
}

CallContext ctx() {
  RequestInfo info;
  info.transport = "test";
  return CallContext(info);
}

TEST(OperationRegistryTest, ValidatesArgumentsNamingTheProperty) {
  OperationRegistry reg;
  int calls = 0;
  ASSERT_TRUE(reg.add(ping("ping", &calls)).ok());
  auto c = ctx();

  auto missing = reg.call("ping", json::object{}, c);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, ErrorCode::kInvalidArgument);
  EXPECT_THAT(missing.error().message, HasSubstr("invalid arguments for 'ping'"));
  EXPECT_THAT(missing.error().message, HasSubstr("workspace_id"));

  auto wrong = reg.call("ping", json::parse(R"({"workspace_id":"w","timeout_s":"ten"})"), c);
  ASSERT_FALSE(wrong.ok());
  EXPECT_EQ(wrong.error().code, ErrorCode::kInvalidArgument);
  EXPECT_THAT(wrong.error().message, HasSubstr("argument 'timeout_s'"));

  auto wrong_id = reg.call("ping", json::parse(R"({"workspace_id":42})"), c);
  ASSERT_FALSE(wrong_id.ok());
  EXPECT_THAT(wrong_id.error().message, HasSubstr("argument 'workspace_id'"));

  auto not_object = reg.call("ping", json::parse("[1]"), c);
  ASSERT_FALSE(not_object.ok());
  EXPECT_EQ(not_object.error().code, ErrorCode::kInvalidArgument);
  EXPECT_THAT(not_object.error().message, HasSubstr("must be a JSON object"));
  EXPECT_EQ(calls, 0) << "the handler must not run on invalid arguments";

  auto good = reg.call("ping", json::parse(R"({"workspace_id":"w1","timeout_s":5})"), c);
  ASSERT_TRUE(good.ok()) << good.error().message;
  EXPECT_EQ(json::serialize(*good), R"({"pong":"w1"})");
  EXPECT_EQ(calls, 1);
}

TEST(OperationRegistryTest, RejectsUnknownArgument) {
  OperationRegistry reg;
  int calls = 0;
  ASSERT_TRUE(reg.add(ping("ping", &calls)).ok());
  auto c = ctx();
  auto r = reg.call("ping", json::parse(R"({"workspace_id":"w","wokspace":"typo"})"), c);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
  EXPECT_THAT(r.error().message, HasSubstr("wokspace"));
  EXPECT_EQ(calls, 0);
}

TEST(OperationRegistryTest, UnknownOperationListsAvailable) {
  OperationRegistry reg;
  ASSERT_TRUE(reg.add(ping("alpha")).ok());
  ASSERT_TRUE(reg.add(ping("beta")).ok());
  auto c = ctx();
  auto r = reg.call("gamma", json::object{{"workspace_id", "w"}}, c);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kNotFound);
  EXPECT_EQ(r.error().message, "unknown operation 'gamma'; available: alpha, beta");
  EXPECT_TRUE(reg.contains("alpha"));
  EXPECT_FALSE(reg.contains("gamma"));
}

TEST(OperationRegistryTest, ResultNotMatchingOutputSchemaIsInternalError) {
  OperationRegistry reg;
  int calls = 0;
  ASSERT_TRUE(reg.add(ping("broken", &calls, json::parse(R"({"pong":7})"))).ok());
  ASSERT_TRUE(reg.add(ping("empty", nullptr, json::object{{"other", true}})).ok());
  auto c = ctx();
  auto r = reg.call("broken", json::object{{"workspace_id", "w"}}, c);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(r.error().code, ErrorCode::kInternal);
  EXPECT_THAT(r.error().message, HasSubstr("operation 'broken' produced an invalid result"));
  EXPECT_THAT(r.error().message, HasSubstr("result 'pong'"));
  EXPECT_THAT(r.error().message, HasSubstr("server bug"));

  auto e = reg.call("empty", json::object{{"workspace_id", "w"}}, c);
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.error().code, ErrorCode::kInternal);
  EXPECT_THAT(e.error().message, HasSubstr("pong"));
}

TEST(OperationRegistryTest, ListKeepsRegistrationOrderAndAnnotations) {
  OperationRegistry reg;
  auto z = ping("zeta");
  z.annotations.read_only = true;
  z.annotations.idempotent = true;
  auto a = ping("alpha");
  a.annotations.destructive = true;
  a.annotations.open_world = true;
  ASSERT_TRUE(reg.add(z).ok());
  ASSERT_TRUE(reg.add(a).ok());
  ASSERT_TRUE(reg.add(ping("mid")).ok());

  json::array list = reg.list();
  ASSERT_EQ(list.size(), 3u);
  EXPECT_EQ(list[0].at("name").as_string(), "zeta");
  EXPECT_EQ(list[1].at("name").as_string(), "alpha");
  EXPECT_EQ(list[2].at("name").as_string(), "mid");
  EXPECT_EQ(list[0].at("title").as_string(), "Ping zeta");
  EXPECT_EQ(list[0].at("description").as_string(), "Answers with the workspace id");
  EXPECT_EQ(list[0].at("input_schema"), json::parse(kInput));
  EXPECT_EQ(list[0].at("output_schema"), json::parse(kOutput));
  EXPECT_EQ(json::serialize(list[0].at("annotations")),
            R"({"read_only":true,"destructive":false,"idempotent":true,"open_world":false})");
  EXPECT_EQ(json::serialize(list[1].at("annotations")),
            R"({"read_only":false,"destructive":true,"idempotent":false,"open_world":true})");
  EXPECT_EQ(json::serialize(list[2].at("annotations")),
            R"({"read_only":false,"destructive":false,"idempotent":false,"open_world":false})");
}

TEST(OperationRegistryTest, DuplicateNameRefused) {
  OperationRegistry reg;
  int first = 0, second = 0;
  ASSERT_TRUE(reg.add(ping("ping", &first)).ok());
  auto st = reg.add(ping("ping", &second));
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code, ErrorCode::kInternal);
  EXPECT_EQ(st.error().message, "operation 'ping' is registered twice");
  EXPECT_EQ(reg.list().size(), 1u);
  // The first registration stays in effect.
  auto c = ctx();
  ASSERT_TRUE(reg.call("ping", json::object{{"workspace_id", "w"}}, c).ok());
  EXPECT_EQ(first, 1);
  EXPECT_EQ(second, 0);

  auto bad = ping("bad-schema");
  bad.input_schema = "{not json";
  auto bs = reg.add(bad);
  ASSERT_FALSE(bs.ok());
  EXPECT_THAT(bs.error().message, HasSubstr("'bad-schema': input schema is not JSON"));
  EXPECT_FALSE(reg.contains("bad-schema"));
}

// mcp_config.json "tools": what is listed is all that is offered, to every
// front door, since they all read the registry.
TEST(OperationRegistryTest, ExposeOnlyRestrictsListAndCall) {
  OperationRegistry reg;
  ASSERT_TRUE(reg.add(ping("a")).ok());
  ASSERT_TRUE(reg.add(ping("b")).ok());
  ASSERT_TRUE(reg.add(ping("c")).ok());
  ASSERT_TRUE(
      reg.expose_only({{"c", "Operator's words", {{"workspace_id", "string"}}}, {"a", std::nullopt, {}}},
                      "mcp.json")
          .ok());
  json::array listed = reg.list();
  ASSERT_EQ(listed.size(), 2u);
  EXPECT_EQ(listed[0].at("name").as_string(), "a") << "registration order stays";
  EXPECT_EQ(listed[1].at("description").as_string(), "Operator's words");
  EXPECT_EQ(listed[0].at("description").as_string(), "Answers with the workspace id");
  EXPECT_FALSE(reg.contains("b"));
  auto c = ctx();
  auto hidden = reg.call("b", json::object{{"workspace_id", "w"}}, c);
  ASSERT_FALSE(hidden.ok());
  EXPECT_EQ(hidden.error().code, ErrorCode::kNotFound);
  EXPECT_THAT(hidden.error().message, HasSubstr("operation 'b' is not exposed (mcp.json lists the tools"));
  EXPECT_THAT(hidden.error().message, HasSubstr("available: a, c"));
  EXPECT_TRUE(reg.call("a", json::object{{"workspace_id", "w"}}, c).ok());
}

TEST(OperationRegistryTest, ExposeOnlyChecksNamesAndParametersAgainstTheOperations) {
  OperationRegistry reg;
  ASSERT_TRUE(reg.add(ping("a")).ok());
  auto unknown = reg.expose_only({{"a", std::nullopt, {}}, {"nope", std::nullopt, {}}}, "m.json");
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.error().message,
            "m.json: tools[1] (nope): this server has no tool of that name; its tools are: a");
  auto param = reg.expose_only({{"a", std::nullopt, {{"plan_id", "string"}}}}, "m.json");
  ASSERT_FALSE(param.ok());
  EXPECT_THAT(
      param.error().message,
      HasSubstr("m.json: tools[0] (a): 'plan_id' is not an argument of a (its arguments: workspace_id, "
                "timeout_s)"));
  auto type = reg.expose_only({{"a", std::nullopt, {{"timeout_s", "string"}}}}, "m.json");
  ASSERT_FALSE(type.ok());
  EXPECT_THAT(type.error().message, HasSubstr("argument 'timeout_s' of a is \"integer\", not \"string\""));
  EXPECT_TRUE(reg.contains("a")) << "a failed restriction restricts nothing";
}

// A tool whose work goes on in the background (exec_command) is exposed with
// the tools that follow and stop that work (wait_execution, cancel_execution),
// even when a list written before they existed (the seed's) names only it.
TEST(OperationRegistryTest, ExposeOnlyExposesTheCompanionsOfAnExposedTool) {
  OperationRegistry reg;
  auto starter = ping("start");
  starter.starts_execution = true;
  starter.companions = {"follow", "stop"};
  ASSERT_TRUE(reg.add(starter).ok());
  ASSERT_TRUE(reg.add(ping("follow")).ok());
  ASSERT_TRUE(reg.add(ping("stop")).ok());
  ASSERT_TRUE(reg.add(ping("other")).ok());
  ASSERT_TRUE(reg.expose_only({{"start", std::nullopt, {}}}, "mcp.json").ok());
  std::vector<std::string> names;
  for (const auto& op : reg.list()) names.emplace_back(op.at("name").as_string());
  EXPECT_EQ(names, (std::vector<std::string>{"start", "follow", "stop"}));
  EXPECT_EQ(reg.list()[0].at("task_support").as_string(), "optional");
  EXPECT_TRUE(reg.list()[0].at("long_running").as_bool());
}

TEST(OperationRegistryTest, ObserverSeesEveryCallOfAKnownOperation) {
  OperationRegistry reg;
  ASSERT_TRUE(reg.add(ping("a")).ok());
  std::vector<std::pair<std::string, bool>> seen;
  reg.set_observer([&](const std::string& name, std::chrono::nanoseconds took, const Error* error) {
    EXPECT_GE(took.count(), 0);
    seen.emplace_back(name, error == nullptr);
  });
  auto c = ctx();
  (void)reg.call("a", json::object{{"workspace_id", "w"}}, c);
  (void)reg.call("a", json::object{}, c);        // bad arguments: an error
  (void)reg.call("made-up", json::object{}, c);  // not an operation: not observed
  EXPECT_EQ(seen, (std::vector<std::pair<std::string, bool>>{{"a", true}, {"a", false}}));
}

}  // namespace
}  // namespace isb
