// elixir.cpp: Elixir projects (mix.exs): dependencies, compile and test all
// go through mix, whose lockfile is mix.lock.
#include "codebase/ecosystems.hpp"

namespace isb::analyzer {

Project detect_elixir(const TreeView& tree, const std::string& dir) {
  Project p;
  p.path = dir;
  p.ecosystem = "elixir";
  p.package_manager = "mix";
  p.package_manager_reason = "mix.exs is a Mix project";
  p.manifests = {"mix.exs"};
  const auto& files = tree.walk.dirs.at(dir).files;
  if (files.count("mix.lock")) p.lockfiles.push_back("mix.lock");
  const std::vector<Evidence> ev{{join_rel(dir, "mix.exs"), "Mix project"}};
  p.evidence = ev;
  p.commands.push_back(
      {"install", make_command({"mix", "deps.get"}, dir, "ecosystem_default", kConfidenceDirect, ev)});
  p.commands.push_back(
      {"build", make_command({"mix", "compile"}, dir, "ecosystem_default", kConfidenceDirect, ev)});
  // ExUnit's convention: tests live in test/; without it `mix test` has nothing to run.
  const bool tests = tree.has_dir(dir, "test");
  p.commands.push_back(
      {"test",
       make_command({"mix", "test"}, dir, "ecosystem_default", tests ? kConfidenceDirect : kConfidenceWeak,
                    {tests ? Evidence{join_rel(dir, "test"), "test/ directory (ExUnit)"} : ev.front()})});
  return p;
}

}  // namespace isb::analyzer
