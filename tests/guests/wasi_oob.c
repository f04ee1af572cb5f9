// Passes the host an out-of-bounds pointer, chosen by argv[1]; each case must trap.
#include <string.h>
#include <unistd.h>
#include "wasi_util.h"

int main(int argc, char **argv) {
  if (argc < 2) return 100;
  const char *line = "about to trap\n";
  write(1, line, strlen(line));
  const char *which = argv[1];
  size_t n = 0;
  if (strcmp(which, "iovec_array") == 0) {
    // The iovec array itself lies past the end of memory.
    report("fd_write", __wasi_fd_write(1, (const __wasi_ciovec_t *)0xFFFFFFF0u, 1, &n));
  } else if (strcmp(which, "iovec_buffer") == 0) {
    // A valid iovec whose buffer runs past the end of memory.
    __wasi_ciovec_t iov = {(const uint8_t *)line, 0x7FFFFFFFu};
    report("fd_write", __wasi_fd_write(1, &iov, 1, &n));
  } else if (strcmp(which, "random") == 0) {
    report("random_get", __wasi_random_get((uint8_t *)0xFFFF0000u, 0x20000));
  } else if (strcmp(which, "result_pointer") == 0) {
    // The call succeeds but its result cannot be stored.
    report("clock_time_get", __wasi_clock_time_get(0, 1, (__wasi_timestamp_t *)0xFFFFFFFCu));
  }
  return 0;
}
