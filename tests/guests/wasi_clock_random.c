// Clocks and randomness.
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "wasi_util.h"

int main(void) {
  struct timespec now;
  clock_gettime(CLOCK_REALTIME, &now);
  printf("realtime_s=%lld\n", (long long)now.tv_sec);

  __wasi_timestamp_t a, b, res;
  report("monotonic", __wasi_clock_time_get(__WASI_CLOCKID_MONOTONIC, 1, &a));
  for (volatile int i = 0; i < 1000000; i++) {
  }
  report("monotonic", __wasi_clock_time_get(__WASI_CLOCKID_MONOTONIC, 1, &b));
  printf("monotonic_nondecreasing=%d\n", b >= a);
  report("res realtime", __wasi_clock_res_get(__WASI_CLOCKID_REALTIME, &res));
  printf("res_ns=%llu\n", (unsigned long long)res);
  report("res monotonic", __wasi_clock_res_get(__WASI_CLOCKID_MONOTONIC, &res));
  report("res bad clock", __wasi_clock_res_get(99, &res));
  report("time bad clock", __wasi_clock_time_get(99, 1, &a));
  __wasi_timestamp_t cpu1, cpu2;
  report("process cputime", __wasi_clock_time_get(__WASI_CLOCKID_PROCESS_CPUTIME_ID, 1, &cpu1));
  report("thread cputime", __wasi_clock_time_get(__WASI_CLOCKID_THREAD_CPUTIME_ID, 1, &cpu2));
  printf("cputime_below_10s=%d\n", cpu1 < 10000000000ull && cpu2 < 10000000000ull);

  // 200,000 bytes spans several host chunks; all byte values should show up.
  static unsigned char big[200000];
  report("random_get", __wasi_random_get(big, sizeof big));
  int seen[256] = {0}, distinct = 0;
  for (size_t i = 0; i < sizeof big; i++) {
    if (!seen[big[i]]++) distinct++;
  }
  printf("distinct=%d\n", distinct);
  // The tail must be filled too, not just the first chunk.
  int tail_zero = 1;
  for (size_t i = sizeof big - 64; i < sizeof big; i++) tail_zero &= big[i] == 0;
  printf("tail_all_zero=%d\n", tail_zero);

  unsigned char x[32], y[32];
  getentropy(x, sizeof x);
  getentropy(y, sizeof y);
  printf("entropy_differs=%d\n", memcmp(x, y, sizeof x) != 0);
  return 0;
}
