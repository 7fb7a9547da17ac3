// ruby.cpp: Ruby projects (Gemfile, bundler). The test command is RSpec when
// the Gemfile or Gemfile.lock names it or a spec/ directory exists, else
// `rake test` when the Rakefile defines a test task.
#include <regex>

#include "codebase/ecosystems.hpp"
#include "codebase/manifest_text.hpp"

namespace isb::analyzer {

namespace {

// The line of a Gemfile declaring gem `name` (gem "rspec" or gem 'rspec', ...), 0 when none.
size_t gemfile_line(const std::string& text, const std::string& name) {
  const std::vector<std::string> lines = split_lines(text);
  for (size_t i = 0; i < lines.size(); ++i) {
    std::string l = trim(lines[i]);
    if (!starts_with(l, "gem ") && !starts_with(l, "gem(")) continue;
    l = trim(std::string_view(l).substr(4));
    if ((starts_with(l, "\"" + name + "\"") || starts_with(l, "'" + name + "'"))) return i + 1;
  }
  return 0;
}

// The line of Gemfile.lock listing gem `name` ("    rspec (3.13.0)" or a
// dependency "      rspec-core (~> 3.13)"), 0 when none.
size_t gemfile_lock_line(const std::string& text, const std::string& name) {
  const std::vector<std::string> lines = split_lines(text);
  for (size_t i = 0; i < lines.size(); ++i) {
    const std::string l = trim(lines[i]);
    if (l == name || starts_with(l, name + " (") || l == name + "!") return i + 1;
  }
  return 0;
}

// A test task in a Rakefile: Rake::TestTask.new (named :test by default, or
// explicitly), or `task :test` / `task test:` / `task "test"`.
size_t rakefile_test_task_line(const std::string& text) {
  static const std::regex test_task(
      R"(^\s*(Rake::TestTask\.new(\s*(\(\s*)?(:test|["']test["'])\s*\)?)?(\s|\{|$|do)|task\s*\(?\s*(:test\b|["']test["']|test:)))");
  const std::vector<std::string> lines = split_lines(text);
  for (size_t i = 0; i < lines.size(); ++i)
    if (std::regex_search(lines[i], test_task)) return i + 1;
  return 0;
}

}  // namespace

Project detect_ruby(const TreeView& tree, const std::string& dir) {
  Project p;
  p.path = dir;
  p.ecosystem = "ruby";
  p.package_manager = "bundler";
  p.package_manager_reason = "Gemfile is a Bundler manifest";
  p.manifests = {"Gemfile"};
  const auto& files = tree.walk.dirs.at(dir).files;
  auto rel = [&](const std::string& n) { return join_rel(dir, n); };
  const bool locked = files.count("Gemfile.lock") > 0;
  if (locked) p.lockfiles.push_back("Gemfile.lock");
  p.evidence.push_back({rel("Gemfile"), "Bundler manifest"});

  p.commands.push_back(
      {"install", make_command({"bundle", "install"}, dir, "ecosystem_default", kConfidenceDirect,
                               {locked ? Evidence{rel("Gemfile.lock"), "Gemfile.lock present"}
                                       : Evidence{rel("Gemfile"), "Gemfile present"}})});

  std::optional<Evidence> rspec;
  if (const std::string* g = tree.text(dir, "Gemfile")) {
    for (const char* gem : {"rspec", "rspec-rails", "rspec-core"})
      if (size_t line = gemfile_line(*g, gem)) {
        rspec = Evidence{rel("Gemfile"), "line " + std::to_string(line) + ": gem \"" + gem + "\""};
        break;
      }
  }
  if (!rspec)
    if (const std::string* lock = tree.text(dir, "Gemfile.lock"))
      if (size_t line = gemfile_lock_line(*lock, "rspec-core"))
        rspec = Evidence{rel("Gemfile.lock"), "line " + std::to_string(line) + ": rspec-core locked"};
  if (!rspec && tree.has_dir(dir, "spec"))
    rspec = Evidence{rel("spec"), "spec/ directory (RSpec convention)"};
  if (rspec) {
    p.commands.push_back(
        {"test", make_command({"bundle", "exec", "rspec"}, dir, "ecosystem_default",
                              rspec->file == rel("spec") ? kConfidenceWeak : kConfidenceDirect, {*rspec})});
    return p;
  }
  for (const char* rakefile : {"Rakefile", "rakefile", "Rakefile.rb"}) {
    const std::string* text = tree.text(dir, rakefile);
    if (!text) continue;
    if (size_t line = rakefile_test_task_line(*text)) {
      p.manifests.push_back(rakefile);
      p.commands.push_back(
          {"test", make_command({"bundle", "exec", "rake", "test"}, dir, "manifest_script", kConfidenceScript,
                                {{rel(rakefile), "line " + std::to_string(line) + ": test task"}})});
    }
    break;
  }
  return p;
}

}  // namespace isb::analyzer
