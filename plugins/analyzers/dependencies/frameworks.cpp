// frameworks.cpp: frameworks per project, from one table of detection rules.
// A framework is reported when the project declares one of its packages
// directly, or when one of its configuration files sits in the project; each
// proof becomes an evidence entry. The test framework is the test-category
// framework with a configuration file, else the first one in table order.
#include <algorithm>

#include "dependencies/projects.hpp"

namespace isb::analyzer::deps {

namespace {

struct Rule {
  const char* name;
  const char* category;   // web | frontend | test | build | gui
  const char* ecosystem;  // the project ecosystem it applies to
  //! Package names (match_key form); a trailing '*' matches a prefix.
  std::vector<const char*> packages;
  //! Files relative to the project directory; a trailing '*' matches a prefix.
  std::vector<const char*> files;
};

// The detection table. Order matters only for the choice of the test framework.
const std::vector<Rule>& rules() {
  static const std::vector<Rule> r{
      {"Next.js", "web", "node", {"next"}, {"next.config.js", "next.config.mjs", "next.config.ts"}},
      {"React", "frontend", "node", {"react"}, {}},
      {"Vue", "frontend", "node", {"vue"}, {"vue.config.js"}},
      {"Angular", "frontend", "node", {"@angular/core"}, {"angular.json"}},
      {"Svelte", "frontend", "node", {"svelte", "@sveltejs/kit"}, {"svelte.config.js"}},
      {"Vite", "build", "node", {"vite"}, {"vite.config.*"}},
      {"Express", "web", "node", {"express"}, {}},
      {"NestJS", "web", "node", {"@nestjs/core"}, {"nest-cli.json"}},
      {"Vitest", "test", "node", {"vitest"}, {"vitest.config.*"}},
      {"Jest", "test", "node", {"jest"}, {"jest.config.*"}},
      {"Mocha", "test", "node", {"mocha"}, {".mocharc.*"}},
      {"Django", "web", "python", {"django"}, {"manage.py"}},
      {"Flask", "web", "python", {"flask"}, {}},
      {"FastAPI", "web", "python", {"fastapi"}, {}},
      {"pytest", "test", "python", {"pytest"}, {"pytest.ini", "conftest.py", "tests/conftest.py"}},
      {"Spring Boot", "web", "maven", {"org.springframework.boot:*"}, {}},
      {"JUnit", "test", "maven", {"junit:junit", "org.junit.jupiter:*"}, {}},
      {"Rails", "web", "ruby", {"rails", "railties"}, {"bin/rails", "config/application.rb"}},
      {"RSpec", "test", "ruby", {"rspec", "rspec-rails", "rspec-core"}, {".rspec"}},
      {"Laravel", "web", "php", {"laravel/framework"}, {"artisan"}},
      {"PHPUnit", "test", "php", {"phpunit/phpunit"}, {"phpunit.xml", "phpunit.xml.dist"}},
      {"GoogleTest", "test", "cmake", {"gtest", "googletest"}, {}},
      {"Catch2", "test", "cmake", {"catch2"}, {}},
      {"Qt", "gui", "cmake", {"qt5", "qt6", "qt", "qtbase"}, {}},
      {"Actix", "web", "rust", {"actix-web"}, {}},
      {"Axum", "web", "rust", {"axum"}, {}},
      {"Gin", "web", "go", {"github.com/gin-gonic/gin"}, {}},
      {"Phoenix", "web", "elixir", {"phoenix"}, {}},
      {"xUnit", "test", "dotnet", {"xunit"}, {}},
      {"NUnit", "test", "dotnet", {"nunit"}, {}},
  };
  return r;
}

bool matches(std::string_view pattern, std::string_view value) {
  if (pattern.ends_with("*")) return value.starts_with(pattern.substr(0, pattern.size() - 1));
  return pattern == value;
}

// The project-relative path of the first file matching pattern, or "".
std::string find_file(const WalkResult& walk, const std::string& project, std::string_view pattern) {
  std::string sub = parent_rel(std::string(pattern));
  std::string name = base_name(std::string(pattern));
  auto it = walk.dirs.find(sub == "." ? project : join_rel(project, sub));
  if (it == walk.dirs.end()) return "";
  for (const auto& f : it->second.files)
    if (matches(name, f)) return sub == "." ? f : sub + "/" + f;
  return "";
}

}  // namespace

void detect_frameworks(std::vector<ProjectDependencies>& projects, const WalkResult& walk) {
  for (auto& p : projects) {
    std::string test_with_config;
    for (const Rule& rule : rules()) {
      if (p.ecosystem != rule.ecosystem) continue;
      Framework fw{rule.name, rule.category, "", {}};
      for (const auto& d : p.dependencies) {
        if (!d.direct) continue;
        const std::string key = match_key(d.ecosystem, d.name);
        if (!std::any_of(rule.packages.begin(), rule.packages.end(), [&](const char* pk) { return matches(pk, key); }))
          continue;
        if (fw.version.empty()) fw.version = d.resolved;
        std::string detail = "declares " + d.name + (d.constraint.empty() ? "" : " " + d.constraint) + " (" +
                             scope_name(d.scope) + ")";
        fw.evidence.push_back({d.file, detail, d.line});
      }
      bool has_config = false;
      for (const char* pattern : rule.files) {
        std::string found = find_file(walk, p.path, pattern);
        if (found.empty()) continue;
        has_config = true;
        fw.evidence.push_back({join_rel(p.path, found), found + " configures " + rule.name, 0});
      }
      if (fw.evidence.empty()) continue;
      p.frameworks.push_back(std::move(fw));
      if (has_config && std::string_view(rule.category) == "test" && test_with_config.empty())
        test_with_config = rule.name;
    }
    if (!test_with_config.empty()) {
      p.test_framework = test_with_config;
    } else {
      for (const auto& f : p.frameworks)
        if (f.category == "test") {
          p.test_framework = f.name;
          break;
        }
    }
  }
}

}  // namespace isb::analyzer::deps
