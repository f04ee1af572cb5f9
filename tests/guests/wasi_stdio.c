// Standard streams: isatty, seeking, scattered reads from stdin, gathered writes, wrong-way use.
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>
#include "wasi_util.h"

int main(void) {
  printf("isatty: %d %d %d\n", isatty(0), isatty(1), isatty(2));
  __wasi_fdstat_t stat;
  for (int fd = 0; fd < 3; fd++) {
    int err = __wasi_fd_fdstat_get(fd, &stat);
    printf("fdstat(%d): err=%d filetype=%d\n", fd, err, stat.fs_filetype);
  }
  __wasi_filesize_t offset;
  report("seek stdout", __wasi_fd_seek(1, 0, __WASI_WHENCE_CUR, &offset));
  report("tell stdin", __wasi_fd_tell(0, &offset));

  // Read all of stdin with two iovecs per call, so each read is scattered.
  char input[4096];
  size_t total = 0;
  int calls = 0;
  for (;;) {
    char head[4], tail[60];
    struct iovec iov[2] = {{head, sizeof head}, {tail, sizeof tail}};
    ssize_t n = readv(0, iov, 2);
    if (n < 0) {
      printf("readv failed: %d\n", errno);
      return 1;
    }
    if (n == 0) break;
    calls++;
    size_t first = n < 4 ? (size_t)n : 4;
    memcpy(input + total, head, first);
    memcpy(input + total + first, tail, (size_t)n - first);
    total += (size_t)n;
  }
  printf("read %zu bytes in %d reads\n", total, calls);
  for (size_t i = 0; i < total; i++) input[i] = (char)toupper((unsigned char)input[i]);
  fflush(stdout);

  struct iovec out[3] = {{"<", 1}, {input, total}, {">\n", 2}};
  ssize_t written = writev(1, out, 3);
  fprintf(stderr, "wrote %zd bytes\n", written);

  size_t n;
  __wasi_ciovec_t ciov = {(const uint8_t *)"x", 1};
  report("write stdin", __wasi_fd_write(0, &ciov, 1, &n));
  char byte;
  __wasi_iovec_t iov = {(uint8_t *)&byte, 1};
  report("read stdout", __wasi_fd_read(1, &iov, 1, &n));
  report("read after eof", __wasi_fd_read(0, &iov, 1, &n));
  printf("nread after eof: %zu\n", n);
  return 0;
}
