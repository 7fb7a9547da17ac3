// log_format.cpp: Python logging formats translated to spdlog patterns.
#include "log_format.hpp"

#include <cctype>
#include <string_view>

namespace isb::config_internal {
namespace {

struct PythonField {
  std::string_view name;
  std::string_view pattern;      // what spdlog prints for it
  std::string_view conversions;  // the %-conversions Python allows on it that print the same
  bool paddable;                 // one spdlog flag, so a width can apply to it
};

// Python's LogRecord attributes this server has a value for. asctime as
// Python's default formatTime prints it: "2003-07-08 16:49:45,896".
constexpr PythonField kFields[] = {
    {"asctime", "%Y-%m-%d %H:%M:%S,%e", "s", false},
    {"created", "%E.%e", "sf", false},
    {"msecs", "%e", "sdf", true},
    {"name", "%n", "s", true},
    {"levelname", "%Q", "s", true},
    {"levelno", "%N", "sd", true},
    {"message", "%v", "s", true},
    {"process", "%P", "sd", true},
    {"thread", "%t", "sd", true},
};

// Python fields with no value here: printed, they would be blank or wrong.
constexpr std::string_view kUnavailable[] = {
    "pathname",        "filename",   "module",      "funcName", "lineno",
    "relativeCreated", "threadName", "processName", "taskName", "exc_info",
    "exc_text",        "stack_info", "args",        "msg"};

constexpr int kMaxWidth = 64;  // spdlog pads to at most this many characters

Error bad(const std::string& format, const std::string& what) {
  return make_error(ErrorCode::kInvalidConfig,
                    what + " in '" + format + "'; a Python logging format may use " + kSupportedPythonFields +
                        " as %(field)s (with a width like %(levelname)-8s), and %% "
                        "for a percent sign; or write an spdlog pattern");
}

Result<std::string> translate_python(const std::string& format) {
  std::string out;
  bool has_message = false;
  for (size_t i = 0; i < format.size(); ++i) {
    char c = format[i];
    if (c != '%') {
      out += c;
      continue;
    }
    if (i + 1 < format.size() && format[i + 1] == '%') {
      out += "%%";
      ++i;
      continue;
    }
    if (i + 1 >= format.size() || format[i + 1] != '(') {
      return bad(format, "'%" + std::string(format.substr(i + 1, 1)) + "' at offset " + std::to_string(i) +
                             " is neither %(field)s nor %%");
    }
    size_t close = format.find(')', i + 2);
    if (close == std::string::npos)
      return bad(format, "'%(' at offset " + std::to_string(i) + " is not closed");
    std::string name = format.substr(i + 2, close - i - 2);
    // The conversion spec after the name: flags, width, precision, type.
    size_t j = close + 1;
    bool left = false;
    while (j < format.size() && std::string_view("-0 +#").find(format[j]) != std::string_view::npos) {
      if (format[j] != '-')
        return bad(format, "the flag '" + std::string(1, format[j]) + "' of %(" + name + ")");
      left = true;
      ++j;
    }
    int width = 0;
    while (j < format.size() && std::isdigit(static_cast<unsigned char>(format[j]))) {
      width = std::min(width * 10 + (format[j] - '0'), 1000);
      ++j;
    }
    if (j < format.size() && format[j] == '.') return bad(format, "a precision on %(" + name + ")");
    if (j >= format.size())
      return bad(format, "%(" + name + ") has no conversion type (like the s of %(name)s)");
    char type = format[j];
    const PythonField* field = nullptr;
    for (const auto& f : kFields) {
      if (f.name == name) field = &f;
    }
    if (!field) {
      for (std::string_view u : kUnavailable) {
        if (u == name) return bad(format, "%(" + name + ") has no value in this server's log records");
      }
      return bad(format, "%(" + name + ") is not a Python LogRecord field");
    }
    if (field->conversions.find(type) == std::string_view::npos) {
      return bad(format, "the conversion '" + std::string(1, type) + "' of %(" + name + ")");
    }
    if (width > 0 && !field->paddable) return bad(format, "a width on %(" + name + ")");
    if (width > kMaxWidth)
      return bad(format, "a width above " + std::to_string(kMaxWidth) + " on %(" + name + ")");
    if (width > 0) {
      // Python's "%-8s" pads on the right and "%8s" on the left; so does spdlog.
      out += '%';
      if (left) out += '-';
      out += std::to_string(width);
      out += field->pattern.substr(1);
    } else {
      out += field->pattern;
    }
    has_message = has_message || name == "message";
    i = j;
  }
  if (!has_message) return bad(format, "there is no %(message)s, so log lines would not say anything");
  return out;
}

}  // namespace

Result<std::string> spdlog_pattern(const std::string& format) {
  if (format.empty()) return format;
  if (format.find("%(") != std::string::npos) return translate_python(format);
  if (format.find("%v") == std::string::npos && format.find("%+") == std::string::npos) {
    return make_error(ErrorCode::kInvalidConfig,
                      "the spdlog pattern '" + format +
                          "' has no %v (the message), so log lines would not say anything; add %v, or "
                          "write a Python logging format such as '%(asctime)s %(levelname)s %(message)s'");
  }
  return format;
}

}  // namespace isb::config_internal
