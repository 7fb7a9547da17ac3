// test_results.cpp: JUnit XML with pugixml; console summaries of the common
// runners as the fallback when no report exists.
#include "services/test_results.hpp"

#include <pugixml.hpp>

#include <fcntl.h>
#include <sys/stat.h>

#include <algorithm>
#include <regex>
#include <set>
#include <sstream>

namespace json = boost::json;

namespace isb::services {

json::object TestResults::to_json() const {
  json::array names;
  for (const auto& n : failing) names.push_back(json::value(n));
  return json::object{{"passed", passed},   {"failed", failed},          {"skipped", skipped},
                      {"total", passed + failed + skipped}, {"failing_tests", std::move(names)}, {"source", source}};
}

namespace {

void add_failing(TestResults& r, const std::string& name) {
  if (r.failing.size() >= kMaxFailingNames) return;
  if (std::find(r.failing.begin(), r.failing.end(), name) == r.failing.end()) r.failing.push_back(name);
}

std::optional<TestResults> from_document(const pugi::xml_document& doc) {
  pugi::xml_node root = doc.document_element();
  std::string root_name = root.name();
  if (root_name != "testsuites" && root_name != "testsuite") return std::nullopt;
  TestResults r;
  for (pugi::xpath_node x : doc.select_nodes("//testcase")) {
    pugi::xml_node tc = x.node();
    std::string name = tc.attribute("name").as_string();
    std::string cls = tc.attribute("classname").as_string();
    std::string full = cls.empty() ? name : cls + "." + name;
    if (tc.child("failure") || tc.child("error")) {
      ++r.failed;
      add_failing(r, full);
    } else if (tc.child("skipped")) {
      ++r.skipped;
    } else {
      // ctest marks tests that did not run with status="notrun"/"disabled".
      std::string status = tc.attribute("status").as_string();
      if (status == "notrun" || status == "disabled") ++r.skipped;
      else ++r.passed;
    }
  }
  return r;
}

int64_t to_int(const std::string& s) {
  try {
    return std::stoll(s);
  } catch (...) {
    return 0;
  }
}

std::optional<TestResults> unittest_summary(const std::string& out) {
  static const std::regex ran(R"(Ran (\d+) tests? in )");
  std::smatch m;
  if (!std::regex_search(out, m, ran)) return std::nullopt;
  TestResults r;
  r.source = "summary:unittest";
  int64_t total = to_int(m[1]);
  static const std::regex verdict(R"((OK|FAILED)(?: \(([^)]*)\))?\s*$)", std::regex::multiline);
  std::string rest = m.suffix();
  if (std::regex_search(rest, m, verdict) && m[2].matched) {
    static const std::regex kv(R"((\w[\w ]*)=(\d+))");
    std::string details = m[2];
    for (auto it = std::sregex_iterator(details.begin(), details.end(), kv); it != std::sregex_iterator(); ++it) {
      std::string key = (*it)[1];
      int64_t n = to_int((*it)[2]);
      if (key == "failures" || key == "errors" || key == "unexpected successes") r.failed += n;
      else if (key == "skipped" || key == "expected failures") r.skipped += n;
    }
  }
  r.passed = std::max<int64_t>(0, total - r.failed - r.skipped);
  static const std::regex names(R"(^(?:FAIL|ERROR): (\S+) \(([^)]+)\))", std::regex::multiline);
  for (auto it = std::sregex_iterator(out.begin(), out.end(), names); it != std::sregex_iterator(); ++it) {
    std::string where = (*it)[2];
    const std::string test = (*it)[1];
    // Python 3.11 prints "test_x (module.Class.test_x)"; older ones "(module.Class)".
    add_failing(r, where.size() > test.size() && where.compare(where.size() - test.size(), std::string::npos, test) == 0
                       ? where
                       : where + "." + test);
  }
  return r;
}

std::optional<TestResults> pytest_summary(const std::string& out) {
  static const std::regex line(R"(^=+ (.*\b(?:passed|failed|skipped|error|errors)\b.*) in [\d.]+s.*=+\s*$)",
                               std::regex::multiline);
  std::smatch m;
  if (!std::regex_search(out, m, line)) return std::nullopt;
  TestResults r;
  r.source = "summary:pytest";
  std::string s = m[1];
  static const std::regex kv(R"((\d+) (passed|failed|skipped|errors?|xfailed|xpassed))");
  for (auto it = std::sregex_iterator(s.begin(), s.end(), kv); it != std::sregex_iterator(); ++it) {
    int64_t n = to_int((*it)[1]);
    std::string k = (*it)[2];
    if (k == "passed" || k == "xpassed") r.passed += n;
    else if (k == "failed" || k == "error" || k == "errors") r.failed += n;
    else r.skipped += n;
  }
  static const std::regex names(R"(^(?:FAILED|ERROR) (\S+))", std::regex::multiline);
  for (auto it = std::sregex_iterator(out.begin(), out.end(), names); it != std::sregex_iterator(); ++it) {
    add_failing(r, (*it)[1]);
  }
  return r;
}

std::optional<TestResults> node_summary(const std::string& out) {
  static const std::regex tests(R"(^(?:ℹ|#) tests (\d+)\s*$)", std::regex::multiline);
  std::smatch m;
  if (!std::regex_search(out, m, tests)) return std::nullopt;
  TestResults r;
  r.source = "summary:node";
  auto count = [&](const char* key) -> int64_t {
    std::regex re(std::string(R"(^(?:ℹ|#) )") + key + R"( (\d+)\s*$)", std::regex::multiline);
    std::smatch k;
    return std::regex_search(out, k, re) ? to_int(k[1]) : 0;
  };
  r.passed = count("pass");
  r.failed = count("fail");
  r.skipped = count("skipped") + count("todo");
  // The spec reporter repeats each failure under "failing tests:" (node 20+);
  // the names are the lines marked with a cross.
  static const std::regex names(R"(^\s*✖ (.+?) \([\d.]+m?s\)\s*$)", std::regex::multiline);
  for (auto it = std::sregex_iterator(out.begin(), out.end(), names); it != std::sregex_iterator(); ++it) {
    add_failing(r, (*it)[1]);
  }
  // Without a terminal node --test writes TAP: "not ok 2 - divides".
  static const std::regex tap(R"(^\s*not ok \d+ - (.+?)\s*$)", std::regex::multiline);
  for (auto it = std::sregex_iterator(out.begin(), out.end(), tap); it != std::sregex_iterator(); ++it) {
    add_failing(r, (*it)[1]);
  }
  return r;
}

std::optional<TestResults> cargo_summary(const std::string& out) {
  static const std::regex line(R"(test result: \w+\. (\d+) passed; (\d+) failed; (\d+) ignored)");
  TestResults r;
  r.source = "summary:cargo";
  bool any = false;
  for (auto it = std::sregex_iterator(out.begin(), out.end(), line); it != std::sregex_iterator(); ++it) {
    any = true;
    r.passed += to_int((*it)[1]);
    r.failed += to_int((*it)[2]);
    r.skipped += to_int((*it)[3]);
  }
  if (!any) return std::nullopt;
  static const std::regex names(R"(^test (\S+) \.\.\. FAILED\s*$)", std::regex::multiline);
  for (auto it = std::sregex_iterator(out.begin(), out.end(), names); it != std::sregex_iterator(); ++it) {
    add_failing(r, (*it)[1]);
  }
  return r;
}

std::optional<TestResults> ctest_summary(const std::string& out) {
  static const std::regex line(R"((\d+)% tests passed, (\d+) tests? failed out of (\d+))");
  std::smatch m;
  if (!std::regex_search(out, m, line)) return std::nullopt;
  TestResults r;
  r.source = "summary:ctest";
  r.failed = to_int(m[2]);
  int64_t total = to_int(m[3]);
  static const std::regex skipped(R"(^\s*\d+ - \S+ \((?:Not Run|Disabled|Skipped)\)\s*$)", std::regex::multiline);
  static const std::regex failed(R"(^\s*\d+ - (\S+) \((?:Failed|Timeout|SEGFAULT|Subprocess aborted|Exception|[^)]*)\)\s*$)",
                                 std::regex::multiline);
  std::string rest = out.substr(static_cast<size_t>(m.position(0)));
  r.skipped = std::distance(std::sregex_iterator(rest.begin(), rest.end(), skipped), std::sregex_iterator());
  for (auto it = std::sregex_iterator(rest.begin(), rest.end(), failed); it != std::sregex_iterator(); ++it) {
    add_failing(r, (*it)[1]);
  }
  r.passed = std::max<int64_t>(0, total - r.failed - r.skipped);
  return r;
}

}  // namespace

std::optional<TestResults> parse_junit_text(const std::string& xml) {
  pugi::xml_document doc;
  if (!doc.load_string(xml.c_str())) return std::nullopt;
  auto r = from_document(doc);
  if (r) r->source = "junit";
  return r;
}

std::optional<TestResults> parse_junit_at(const workspaces::BeneathRoot& root, const std::string& rel) {
  // The report was written by sandboxed code: read beneath the workspace,
  // never through a symlink, and only up to a size a report can have.
  auto text = root.read_small(rel, kMaxReportBytes);
  if (!text) return std::nullopt;
  auto r = parse_junit_text(*text);
  if (r) r->source = "junit:" + rel;
  return r;
}

std::optional<TestResults> parse_runner_summary(const std::string& output) {
  // Most specific first: pytest and unittest both print "Ran"-like lines only
  // in their own format, and cargo/ctest lines cannot be confused.
  for (auto* parse : {cargo_summary, ctest_summary, pytest_summary, unittest_summary, node_summary}) {
    if (auto r = parse(output)) return r;
  }
  return std::nullopt;
}

std::optional<json::array> add_junit_report(const json::array& argv, const std::string& report_path) {
  if (argv.empty()) return std::nullopt;
  std::vector<std::string> a;
  for (const auto& v : argv) a.push_back(v.is_string() ? std::string(v.as_string()) : std::string());
  auto base = [](const std::string& p) { return p.substr(p.rfind('/') == std::string::npos ? 0 : p.rfind('/') + 1); };
  auto has_prefix = [&](const char* prefix) {
    for (const auto& s : a) {
      if (s.rfind(prefix, 0) == 0) return true;
    }
    return false;
  };
  json::array out = argv;
  std::string prog = base(a[0]);
  bool python_m_pytest = (prog.rfind("python", 0) == 0) && a.size() >= 3 && a[1] == "-m" && a[2] == "pytest";
  if (prog == "pytest" || python_m_pytest) {
    if (has_prefix("--junitxml") || has_prefix("--junit-xml")) return std::nullopt;
    out.push_back(json::value("--junitxml=" + report_path));
    return out;
  }
  if (prog == "ctest") {
    if (has_prefix("--output-junit")) return std::nullopt;
    out.push_back(json::value("--output-junit"));
    out.push_back(json::value(report_path));
    return out;
  }
  if (prog == "node" && std::find(a.begin(), a.end(), "--test") != a.end()) {
    if (has_prefix("--test-reporter")) return std::nullopt;
    // Two reporters: the JUnit file for us, the usual spec output for people.
    json::array with;
    with.push_back(out[0]);
    for (const char* f : {"--test-reporter=junit", "--test-reporter=spec", "--test-reporter-destination=stdout"}) {
      with.push_back(json::value(f));
    }
    with.insert(with.begin() + 2, json::value("--test-reporter-destination=" + report_path));
    for (size_t i = 1; i < out.size(); ++i) with.push_back(out[i]);
    return with;
  }
  return std::nullopt;
}

namespace {

// Whether a word of a command names Maven or Gradle ("./mvnw", "/usr/bin/gradle").
bool is_build_tool(std::string word) {
  if (auto slash = word.rfind('/'); slash != std::string::npos) word = word.substr(slash + 1);
  return word == "mvn" || word == "mvnw" || word == "gradle" || word == "gradlew";
}

}  // namespace

bool runs_build_tool_with_reports(const json::object& command) {
  if (auto* a = command.if_contains("argv"); a && a->is_array() && !a->as_array().empty()) {
    const json::value& first = a->as_array()[0];
    return first.is_string() && is_build_tool(std::string(first.as_string()));
  }
  if (auto* s = command.if_contains("shell"); s && s->is_string()) {
    // Any word of a shell line: "cd api && ./mvnw -B test" runs Maven too.
    std::istringstream words{std::string(s->as_string())};
    for (std::string w; words >> w;) {
      if (is_build_tool(w)) return true;
    }
  }
  return false;
}

std::optional<TestResults> discover_build_tool_reports(const workspaces::BeneathRoot& cwd, int64_t since_ms) {
  // The kernel stamps files with a coarse clock that may lag the wall clock
  // by a tick; a few ms of slack keep a report written at once in.
  constexpr int64_t kClockSlackMs = 20;
  // cwd itself and its subdirectories (modules), listed by descriptor: a
  // symlink is never entered, whatever the sandbox swaps in meanwhile.
  std::vector<std::string> roots{""};
  (void)workspaces::walk_beneath(cwd.fd(), "", [&](const workspaces::WalkEntry& e) {
    if (S_ISDIR(e.st.st_mode)) roots.push_back(e.rel);
    return false;
  });
  TestResults total;
  std::vector<std::string> dirs;
  size_t files = 0;
  bool any = false;
  for (const auto& root : roots) {
    for (const char* rel : kBuildToolReportDirs) {
      const std::string dir_rel = root.empty() ? rel : root + "/" + rel;
      auto dir = cwd.sub(dir_rel, false);
      if (!dir) continue;
      auto listing = dir->open_at("", O_RDONLY | O_DIRECTORY);
      if (!listing) continue;
      // Gradle: build/test-results/<task>/TEST-*.xml; Maven: flat.
      std::vector<std::pair<std::string, struct stat>> candidates;
      (void)workspaces::walk_beneath(listing->get(), "", [&](const workspaces::WalkEntry& e) {
        const std::string name = e.rel.substr(e.rel.rfind('/') + 1);
        if (S_ISREG(e.st.st_mode) && name.rfind("TEST-", 0) == 0 && name.size() > 9 &&
            name.compare(name.size() - 4, 4, ".xml") == 0) {
          candidates.emplace_back(e.rel, e.st);
        }
        return S_ISDIR(e.st.st_mode) && e.rel.find('/') == std::string::npos;  // one level of task dirs
      });
      bool used_dir = false;
      for (const auto& [f, st] : candidates) {
        if (files >= kMaxDiscoveredReports) break;
        const int64_t mtime_ms = static_cast<int64_t>(st.st_mtim.tv_sec) * 1000 + st.st_mtim.tv_nsec / 1000000;
        if (mtime_ms + kClockSlackMs < since_ms) continue;  // left by an earlier run
        auto r = parse_junit_at(*dir, f);
        if (!r) continue;
        ++files;
        any = used_dir = true;
        total.passed += r->passed;
        total.failed += r->failed;
        total.skipped += r->skipped;
        for (const auto& n : r->failing) add_failing(total, n);
      }
      if (used_dir) dirs.push_back(dir_rel);
    }
  }
  if (!any) return std::nullopt;
  total.source = "junit:";
  for (size_t i = 0; i < dirs.size(); ++i) total.source += (i ? "," : "") + dirs[i];
  return total;
}

}  // namespace isb::services
