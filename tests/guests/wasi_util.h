// Helpers shared by the wasi_*.c test guests (raw WASI calls, bypassing libc's own checks).
#ifndef WASI_UTIL_H
#define WASI_UTIL_H

#include <stdio.h>
#include <string.h>
#include <wasi/api.h>

// The preopen fd whose guest name is `name`, or -1: the scan wasi-libc does at startup.
static inline int find_preopen(const char *name) {
  for (__wasi_fd_t fd = 3;; fd++) {
    __wasi_prestat_t prestat;
    if (__wasi_fd_prestat_get(fd, &prestat) != 0) return -1;
    char buf[512];
    size_t len = prestat.u.dir.pr_name_len;
    if (len >= sizeof buf) continue;
    if (__wasi_fd_prestat_dir_name(fd, (uint8_t *)buf, len) != 0) return -1;
    buf[len] = 0;
    if (strcmp(buf, name) == 0) return (int)fd;
  }
}

// Prints "<label>: <errno>", the line format the tests compare.
static inline void report(const char *label, int err) { printf("%s: %d\n", label, err); }

#endif
