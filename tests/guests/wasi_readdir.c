// Lists the directory argv[1]/many with libc, then pages through it with raw fd_readdir calls.
#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>
#include "wasi_util.h"

static int by_name(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

// The d_type letter the tests compare: d(irectory), f(ile), l(ink), ?(other).
static char type_letter(int type) {
  return type == DT_DIR ? 'd' : type == DT_REG ? 'f' : type == DT_LNK ? 'l' : '?';
}

int main(int argc, char **argv) {
  if (argc < 2) return 100;
  char path[1024];
  snprintf(path, sizeof path, "%s/many", argv[1]);

  // 1. libc readdir (it resumes with cookies when its 4 KiB buffer fills up).
  DIR *dir = opendir(path);
  if (!dir) return 101;
  char *names[1024];
  int count = 0;
  for (struct dirent *entry; (entry = readdir(dir)) != NULL && count < 1024;) {
    char *line = malloc(strlen(entry->d_name) + 3);
    sprintf(line, "%c %s", type_letter(entry->d_type), entry->d_name);
    names[count++] = line;
  }
  closedir(dir);
  qsort(names, (size_t)count, sizeof names[0], by_name);
  printf("libc entries=%d\n", count);
  for (int i = 0; i < count; i++) printf("%s\n", names[i]);

  int fd = open(path, O_RDONLY | O_DIRECTORY);
  static uint8_t buf[65536];
  size_t used;

  // 2. A 30-byte buffer: the first dirent ('.') fits, the second is cut off.
  report("small", __wasi_fd_readdir(fd, buf, 30, 0, &used));
  __wasi_dirent_t first;
  memcpy(&first, buf, sizeof first);
  printf("small used=%zu next=%llu namlen=%u type=%d name=%c ino_set=%d\n", used,
         (unsigned long long)first.d_next, first.d_namlen, first.d_type, buf[24],
         first.d_ino != 0);

  // 3. Resuming at cookie 2 skips '.' and '..'.
  report("from cookie 2", __wasi_fd_readdir(fd, buf, sizeof buf, 2, &used));
  memcpy(&first, buf, sizeof first);
  printf("cookie 2 first next=%llu name_is_dot=%d\n", (unsigned long long)first.d_next,
         buf[24] == '.');

  // 4. Page through with a 100-byte buffer, restarting after the last whole entry each time.
  __wasi_dircookie_t cookie = 0;
  int paged = 0, calls = 0;
  for (;;) {
    if (__wasi_fd_readdir(fd, buf, 100, cookie, &used) != 0) return 102;
    calls++;
    size_t offset = 0;
    int whole = 0;
    while (offset + sizeof(__wasi_dirent_t) <= used) {
      __wasi_dirent_t entry;
      memcpy(&entry, buf + offset, sizeof entry);
      if (offset + sizeof entry + entry.d_namlen > used) break;
      offset += sizeof entry + entry.d_namlen;
      cookie = entry.d_next;
      paged++;
      whole++;
    }
    if (used < 100) break;
    if (whole == 0) return 103;
  }
  printf("paged entries=%d calls>1=%d\n", paged, calls > 1);

  // 5. A cookie past the end yields nothing.
  report("past end", __wasi_fd_readdir(fd, buf, sizeof buf, 100000, &used));
  printf("past end used=%zu\n", used);
  report("readdir on file", __wasi_fd_readdir(1, buf, sizeof buf, 0, &used));
  close(fd);
  return 0;
}
