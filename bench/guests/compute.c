// A compute-heavy guest for bench/instrumentation_bench.ts: hashing, a sieve, a matrix
// product, an n-body simulation, recursion and calls through function pointers (qsort).
// Freestanding: built with `clang-14 --target=wasm32 -O2 -mbulk-memory -nostdlib -Wl,--no-entry`.
#include <stdint.h>

#define EXPORT(name) __attribute__((export_name(name)))

static unsigned char buffer[1 << 16];

static uint64_t fnv1a(const unsigned char *p, int n, uint64_t h) {
  for (int i = 0; i < n; i++) h = (h ^ p[i]) * 0x100000001b3ULL;
  return h;
}

static uint32_t xorshift(uint32_t *state) {
  uint32_t x = *state;
  x ^= x << 13;
  x ^= x >> 17;
  x ^= x << 5;
  return *state = x;
}

static char composite[100000];

static int sieve(int n) {
  for (int i = 0; i < n; i++) composite[i] = 0;
  int count = 0;
  for (int i = 2; i < n; i++) {
    if (composite[i]) continue;
    count++;
    for (int j = 2 * i; j < n; j += i) composite[j] = 1;
  }
  return count;
}

#define N 48
static double a[N][N], b[N][N], c[N][N];

static double matmul(void) {
  for (int i = 0; i < N; i++)
    for (int j = 0; j < N; j++) {
      a[i][j] = (i * 7 + j * 3) % 11 - 5;
      b[i][j] = (i * 5 + j * 13) % 7 - 3;
    }
  for (int i = 0; i < N; i++)
    for (int j = 0; j < N; j++) {
      double s = 0;
      for (int k = 0; k < N; k++) s += a[i][k] * b[k][j];
      c[i][j] = s;
    }
  double t = 0;
  for (int i = 0; i < N; i++) t += c[i][(i * 5) % N];
  return t;
}

struct body { double x, y, z, vx, vy, vz, m; };
static struct body bodies[5];

static double nbody(int steps) {
  for (int i = 0; i < 5; i++) {
    bodies[i] = (struct body){i * 1.5, i * -0.5, i * 0.25, 0.01 * i, -0.02 * i, 0.005, 1.0 + i};
  }
  for (int s = 0; s < steps; s++) {
    for (int i = 0; i < 5; i++)
      for (int j = i + 1; j < 5; j++) {
        double dx = bodies[i].x - bodies[j].x, dy = bodies[i].y - bodies[j].y,
               dz = bodies[i].z - bodies[j].z;
        double d2 = dx * dx + dy * dy + dz * dz + 0.01;
        double mag = 0.001 / (d2 * __builtin_sqrt(d2));
        bodies[i].vx -= dx * bodies[j].m * mag;
        bodies[i].vy -= dy * bodies[j].m * mag;
        bodies[i].vz -= dz * bodies[j].m * mag;
        bodies[j].vx += dx * bodies[i].m * mag;
        bodies[j].vy += dy * bodies[i].m * mag;
        bodies[j].vz += dz * bodies[i].m * mag;
      }
    for (int i = 0; i < 5; i++) {
      bodies[i].x += 0.001 * bodies[i].vx;
      bodies[i].y += 0.001 * bodies[i].vy;
      bodies[i].z += 0.001 * bodies[i].vz;
    }
  }
  double e = 0;
  for (int i = 0; i < 5; i++) e += bodies[i].x + bodies[i].y + bodies[i].z;
  return e;
}

__attribute__((noinline)) static int fib(int n) { return n < 2 ? n : fib(n - 1) + fib(n - 2); }

typedef int (*compare_fn)(const void *, const void *);
static int ascending(const void *x, const void *y) {
  uint32_t a = *(const uint32_t *)x, b = *(const uint32_t *)y;
  return a < b ? -1 : a > b;
}
static int descending(const void *x, const void *y) { return ascending(y, x); }
static volatile compare_fn comparators[2] = {ascending, descending};

static void swap(uint32_t *x, uint32_t *y) { uint32_t t = *x; *x = *y; *y = t; }

// Quicksort with the comparison through a function pointer (call_indirect).
static void sort(uint32_t *v, int n, compare_fn cmp) {
  while (n > 16) {
    swap(&v[0], &v[n / 2]);
    int last = 0;
    for (int i = 1; i < n; i++)
      if (cmp(&v[i], &v[0]) < 0) swap(&v[++last], &v[i]);
    swap(&v[0], &v[last]);
    sort(v, last, cmp);
    v += last + 1;
    n -= last + 1;
  }
  for (int i = 1; i < n; i++)
    for (int j = i; j > 0 && cmp(&v[j], &v[j - 1]) < 0; j--) swap(&v[j], &v[j - 1]);
}

static uint32_t numbers[20000];

EXPORT("run") uint64_t run(int rounds) {
  uint64_t check = 0;
  uint32_t state = 2463534242u;
  for (int r = 0; r < rounds; r++) {
    for (int i = 0; i < (int)sizeof buffer; i++) buffer[i] = (unsigned char)xorshift(&state);
    check = fnv1a(buffer, sizeof buffer, check ^ 0xcbf29ce484222325ULL);
    check += (uint64_t)sieve(100000);
    check += (uint64_t)(int64_t)matmul();
    check += (uint64_t)(int64_t)(nbody(2000) * 1000);
    check += (uint64_t)fib(22);
    for (int i = 0; i < 20000; i++) numbers[i] = xorshift(&state);
    sort(numbers, 20000, comparators[r & 1]);
    check += numbers[0] ^ numbers[19999] ^ numbers[10000];
  }
  return check;
}

// Each kernel alone, so the overhead can be told apart by kind of code.
EXPORT("hash") uint64_t hash(int rounds) {
  uint64_t check = 0;
  uint32_t state = 2463534242u;
  for (int r = 0; r < rounds; r++) {
    for (int i = 0; i < (int)sizeof buffer; i++) buffer[i] = (unsigned char)xorshift(&state);
    check = fnv1a(buffer, sizeof buffer, check ^ 0xcbf29ce484222325ULL);
  }
  return check;
}

EXPORT("sieve_kernel") uint64_t sieve_kernel(int rounds) {
  uint64_t check = 0;
  for (int r = 0; r < rounds; r++) check += (uint64_t)sieve(100000);
  return check;
}

EXPORT("matmul_kernel") uint64_t matmul_kernel(int rounds) {
  uint64_t check = 0;
  for (int r = 0; r < rounds; r++) check += (uint64_t)(int64_t)matmul();
  return check;
}

EXPORT("nbody_kernel") uint64_t nbody_kernel(int rounds) {
  uint64_t check = 0;
  for (int r = 0; r < rounds; r++) check += (uint64_t)(int64_t)(nbody(2000) * 1000);
  return check;
}

EXPORT("fib_kernel") uint64_t fib_kernel(int rounds) {
  uint64_t check = 0;
  // The argument varies, or clang computes the pure call once for all rounds.
  for (int r = 0; r < rounds; r++) check += (uint64_t)fib(20 + r % 3);
  return check;
}

EXPORT("sort_kernel") uint64_t sort_kernel(int rounds) {
  uint64_t check = 0;
  uint32_t state = 2463534242u;
  for (int r = 0; r < rounds; r++) {
    for (int i = 0; i < 20000; i++) numbers[i] = xorshift(&state);
    sort(numbers, 20000, comparators[r & 1]);
    check += numbers[0] ^ numbers[19999] ^ numbers[10000];
  }
  return check;
}
