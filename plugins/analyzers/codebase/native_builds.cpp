// native_builds.cpp: Meson and GNU autotools projects. Both configure into a
// build tree before anything can be built or tested, so their build command
// is a shell line that configures first.
#include "codebase/ecosystems.hpp"
#include "codebase/manifest_text.hpp"

namespace isb::analyzer {

namespace {

// The first line calling Meson's test(), 0 when none.
size_t meson_test_line(const std::string& text) {
  const std::vector<std::string> lines = split_lines(text);
  for (size_t i = 0; i < lines.size(); ++i) {
    std::string l = lines[i].substr(0, lines[i].find('#'));
    for (size_t at = l.find("test("); at != std::string::npos; at = l.find("test(", at + 1))
      if (at == 0 || !(std::isalnum(static_cast<unsigned char>(l[at - 1])) || l[at - 1] == '_')) return i + 1;
  }
  return 0;
}

// Whether a Makefile(.in) text defines `target:` at the start of a line.
size_t make_target_line(const std::string& text, const std::string& target) {
  const std::vector<std::string> lines = split_lines(text);
  for (size_t i = 0; i < lines.size(); ++i)
    if (starts_with(lines[i], target + ":") && !starts_with(lines[i], target + ":=")) return i + 1;
  return 0;
}

}  // namespace

Project detect_meson(const TreeView& tree, const std::string& dir) {
  Project p;
  p.path = dir;
  p.ecosystem = "meson";
  p.package_manager = "meson";
  p.package_manager_reason = "meson.build: Meson configures and drives the build";
  p.manifests = {"meson.build"};
  const std::string top = join_rel(dir, "meson.build");
  p.evidence.push_back({top, "top-level meson.build"});
  Command build =
      make_command({}, dir, "ecosystem_default", kConfidenceDirect, {{top, "top-level meson.build"}});
  build.shell = "meson setup build && meson compile -C build";
  p.commands.push_back({"build", build});

  // Tests are registered by test() in any meson.build of the tree (subdir()s included).
  for (const auto& [d, listing] : tree.walk.dirs) {
    if (!listing.files.count("meson.build") || (dir != "." && d != dir && !starts_with(d, dir + "/")))
      continue;
    const std::string* text = tree.text(d, "meson.build");
    if (size_t line = text ? meson_test_line(*text) : 0) {
      const std::string f = join_rel(d, "meson.build");
      p.commands.push_back(
          {"test", make_command({"meson", "test", "-C", "build"}, dir, "ecosystem_default", kConfidenceDirect,
                                {{f, "line " + std::to_string(line) + ": test() registers a test"}})});
      break;
    }
  }
  return p;
}

Project detect_autotools(const TreeView& tree, const std::string& dir) {
  Project p;
  p.path = dir;
  p.ecosystem = "autotools";
  p.package_manager = "make";
  const auto& files = tree.walk.dirs.at(dir).files;
  auto rel = [&](const std::string& n) { return join_rel(dir, n); };
  const bool configure = files.count("configure") > 0;
  const char* ac = files.count("configure.ac")   ? "configure.ac"
                   : files.count("configure.in") ? "configure.in"
                                                 : nullptr;
  if (configure) p.manifests.push_back("configure");
  if (ac) p.manifests.push_back(ac);
  for (const char* m : {"Makefile.am", "Makefile.in"})
    if (files.count(m)) p.manifests.push_back(m);
  p.package_manager_reason = configure
                                 ? "configure script generates the Makefile that make runs"
                                 : std::string(ac) + " is an autoconf input; autoreconf generates configure";
  for (const auto& m : p.manifests) p.evidence.push_back({rel(m), "autotools input"});

  // A release tarball ships ./configure; a checkout often has only configure.ac.
  Command build =
      make_command({}, dir, "ecosystem_default", kConfidenceDirect,
                   {configure ? Evidence{rel("configure"), "configure script"}
                              : Evidence{rel(ac), "autoconf input without a generated configure"}});
  build.shell = configure ? "./configure && make" : "autoreconf -fi && ./configure && make";
  p.commands.push_back({"build", build});

  // Automake generates a check target in every Makefile; a hand-written
  // Makefile.in says for itself.
  if (files.count("Makefile.am")) {
    p.commands.push_back(
        {"test", make_command({"make", "check"}, dir, "ecosystem_default", kConfidenceDirect,
                              {{rel("Makefile.am"), "automake generates the check target"}})});
  } else if (const std::string* in = tree.text(dir, "Makefile.in")) {
    for (const char* t : {"check", "test"})
      if (size_t line = make_target_line(*in, t)) {
        p.commands.push_back(
            {"test", make_command({"make", t}, dir, "makefile_target", kConfidenceScript,
                                  {{rel("Makefile.in"), "line " + std::to_string(line) + ": target " + t}})});
        break;
      }
  }
  return p;
}

}  // namespace isb::analyzer
