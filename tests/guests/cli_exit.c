// Exits with the code given as its first argument, after printing its argv.
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
  for (int i = 0; i < argc; i++) printf("argv[%d]=%s\n", i, argv[i]);
  return argc > 1 ? atoi(argv[1]) : 0;
}
