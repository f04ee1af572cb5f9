// Traps inside a named function, so the backtrace shows its name.
#include <stdio.h>

__attribute__((noinline)) void explode_here(int depth) {
  if (depth == 0) __builtin_trap();
  explode_here(depth - 1);
  printf("unreachable\n");
}

int main(void) {
  printf("about to trap\n");
  fflush(stdout);
  explode_here(2);
  return 0;
}
