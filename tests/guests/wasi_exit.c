// Ends in the way argv[1] names: `exit <n>`, `return <n>`, or `proc_exit <n>` (raw, no flush).
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "wasi_util.h"

int main(int argc, char **argv) {
  if (argc < 3) return 100;
  int code = atoi(argv[2]);
  const char *line = "before exit\n";
  write(1, line, strlen(line));
  if (strcmp(argv[1], "exit") == 0) exit(code);
  if (strcmp(argv[1], "proc_exit") == 0) __wasi_proc_exit((__wasi_exitcode_t)code);
  if (strcmp(argv[1], "return") == 0) return code;
  return 101;
}
