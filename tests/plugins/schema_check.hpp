// schema_check.hpp: validates a plugin's JSON output against a JSON Schema
// with valijson, the library the core itself uses, so a test fails on the same
// documents the server would refuse. Each error comes back as one
// "<context>: <description>" line, so EXPECT_EQ(..., "") prints all of them.
//
//   EXPECT_EQ(schema_errors(result, "exec-result.schema.json"), "");
//   EXPECT_EQ(schema_errors_for(json::parse(desc->config_schema), config), "");
#pragma once

#include <boost/json.hpp>
#include <fstream>
#include <sstream>
#include <string>
#include <valijson/adapters/boost_json_adapter.hpp>
#include <valijson/schema.hpp>
#include <valijson/schema_parser.hpp>
#include <valijson/validation_results.hpp>
#include <valijson/validator.hpp>

//! Validates doc against the schema document schema_doc; returns the error
//! list, "" when doc is valid.
inline std::string schema_errors_for(const boost::json::value& schema_doc, const boost::json::value& doc) {
  valijson::Schema schema;
  valijson::SchemaParser parser;
  valijson::adapters::BoostJsonAdapter schema_adapter(schema_doc);
  parser.populateSchema(schema_adapter, schema);
  valijson::Validator validator;
  valijson::ValidationResults results;
  valijson::adapters::BoostJsonAdapter doc_adapter(doc);
  if (validator.validate(schema, doc_adapter, &results)) return "";
  std::string out;
  valijson::ValidationResults::Error e;
  while (results.popError(e)) {
    std::string ctx;
    for (const auto& c : e.context) ctx += c;
    out += ctx + ": " + e.description + "\n";
  }
  // Never "" for an invalid document, or the caller would read it as valid.
  return out.empty() ? "invalid" : out;
}

//! Validates doc against docs/schemas/<file> of the source tree (ISB_SOURCE_DIR);
//! returns the error list, "" when doc is valid.
inline std::string schema_errors(const boost::json::value& doc, const std::string& file) {
  const std::string path = std::string(ISB_SOURCE_DIR) + "/docs/schemas/" + file;
  std::ifstream in(path);
  if (!in) return "cannot read schema " + path;
  std::stringstream text;
  text << in.rdbuf();
  return schema_errors_for(boost::json::parse(text.str()), doc);
}
