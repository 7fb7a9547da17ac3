// process_tree.cpp: see process_tree.hpp.
#include "isolation-common/process_tree.hpp"

#include <dirent.h>

#include <cstdio>
#include <cstring>
#include <string>

namespace isb::isolation {

int64_t count_children(pid_t pid) {
  const std::string task_dir = "/proc/" + std::to_string(pid) + "/task";
  DIR* d = ::opendir(task_dir.c_str());
  if (!d) return -1;
  int64_t n = 0;
  bool read_any = false;
  while (struct dirent* e = ::readdir(d)) {
    if (e->d_name[0] == '.') continue;
    std::FILE* f = std::fopen((task_dir + "/" + e->d_name + "/children").c_str(), "r");
    if (!f) continue;
    read_any = true;
    long child = 0;
    while (std::fscanf(f, "%ld", &child) == 1) ++n;
    std::fclose(f);
  }
  ::closedir(d);
  return read_any ? n : -1;
}

}  // namespace isb::isolation
