// temp_tree.hpp: a scratch directory tree for plugin tests, so each test
// writes exactly the project files it talks about and nothing leaks between
// tests. The directory is created empty and removed, with everything in it,
// when the TempTree goes out of scope.
//
//   TempTree t;
//   t.write("web/package.json", R"({"scripts":{"test":"jest"}})");
//   analyze(t.path());
#pragma once

#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <system_error>

//! Owns a fresh directory under the system temp dir; not copyable, not
//! thread-safe (one test writes it, then hands its path to the plugin).
class TempTree {
 public:
  TempTree() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "isb-tree-XXXXXX").string();
    if (!mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp " + tmpl + " failed");
    root_ = tmpl;
  }
  ~TempTree() {
    // A destructor must not throw; a leftover temp dir is harmless.
    std::error_code ec;
    std::filesystem::remove_all(root_, ec);
  }
  TempTree(const TempTree&) = delete;
  TempTree& operator=(const TempTree&) = delete;

  //! Writes content to <root>/<rel> byte for byte, creating parent directories.
  void write(const std::string& rel, const std::string& content) const {
    std::filesystem::path p = root_ / rel;
    std::filesystem::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary) << content;
  }
  std::string path() const { return root_.string(); }
  const std::filesystem::path& root() const { return root_; }

 private:
  std::filesystem::path root_;
};
