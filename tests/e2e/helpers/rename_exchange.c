/* rename_exchange.c: the attacker of the analyzer symlink-race e2e test
 * (tests/e2e/analysis_symlink_race.test.mjs). The test copies it into a
 * workspace and runs it inside the sandbox; it is linked statically, so it
 * needs nothing from the jail. For SECONDS it exchanges each pair of paths
 * with renameat2(RENAME_EXCHANGE) as fast as it can, as hostile code racing
 * the host's analyzers would, then writes the number of exchanges made (and
 * the errno of the last failed one) to COUNT_FILE.
 *
 *   isb-test-rename-exchange SECONDS COUNT_FILE A1 B1 [A2 B2 ...]
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char** argv) {
  if (argc < 5 || (argc - 3) % 2 != 0) {
    fprintf(stderr, "usage: %s SECONDS COUNT_FILE A1 B1 [A2 B2 ...]\n", argv[0]);
    return 2;
  }
  const double until = now() + atof(argv[1]);
  unsigned long long swaps = 0;
  int last_errno = 0;
  while (now() < until) {
    /* Many exchanges per clock read: the clock is the slower call. */
    for (int round = 0; round < 256; ++round) {
      for (int i = 3; i + 1 < argc; i += 2) {
        if (syscall(SYS_renameat2, AT_FDCWD, argv[i], AT_FDCWD, argv[i + 1], RENAME_EXCHANGE) == 0)
          ++swaps;
        else
          last_errno = errno;
      }
    }
  }
  FILE* f = fopen(argv[2], "w");
  if (!f) {
    perror(argv[2]);
    return 1;
  }
  fprintf(f, "%llu %d\n", swaps, last_errno);
  return fclose(f) == 0 ? 0 : 1;
}
