// build: -Wl,--initial-memory=1310720
/*
 * memory_limit_big.c: memory_limit.c with an initial memory of 20 pages, more than the
 * runtime reuses (runtime/memory_pool.ts), so each process gets a memory of its own.
 */
#include "memory_limit.c"
