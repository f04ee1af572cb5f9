// Files and directories through libc, under the preopen named by argv[1]. Each step prints
// "<label>: <result>" (errno values are WASI's numbering, which wasi-libc uses as is).
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "wasi_util.h"

static const char *root;
static char path_buf[2][1024];

// `root/name` (two buffers, so two paths can be live at once).
static const char *at(int slot, const char *name) {
  snprintf(path_buf[slot], sizeof path_buf[slot], "%s/%s", root, name);
  return path_buf[slot];
}
static const char *P(const char *name) { return at(0, name); }
static const char *Q(const char *name) { return at(1, name); }

// 0 when `result` is not -1, otherwise errno.
static int err_of(int result) { return result == -1 ? errno : 0; }

static void show_file(const char *label, const char *path) {
  char buf[256] = {0};
  FILE *f = fopen(path, "r");
  if (!f) {
    printf("%s: open failed %d\n", label, errno);
    return;
  }
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  printf("%s: [%.*s]\n", label, (int)n, buf);
}

int main(int argc, char **argv) {
  if (argc < 2) return 100;
  root = argv[1];
  struct stat st;

  report("mkdir", err_of(mkdir(P("dir"), 0755)));
  report("mkdir again", err_of(mkdir(P("dir"), 0755)));

  FILE *f = fopen(P("dir/a.txt"), "w");
  fputs("hello, world\n", f);
  fclose(f);
  report("stat", err_of(stat(P("dir/a.txt"), &st)));
  printf("size=%lld regular=%d\n", (long long)st.st_size, S_ISREG(st.st_mode));
  show_file("content", P("dir/a.txt"));

  int fd = open(P("dir/a.txt"), O_RDWR);
  char buf[64] = {0};
  lseek(fd, 7, SEEK_SET);
  ssize_t n = read(fd, buf, 5);
  printf("read at 7: %zd [%.*s]\n", n, (int)n, buf);
  printf("tell: %lld\n", (long long)lseek(fd, 0, SEEK_CUR));
  printf("end: %lld\n", (long long)lseek(fd, 0, SEEK_END));
  write(fd, "more\n", 5);
  fstat(fd, &st);
  printf("fstat size=%lld\n", (long long)st.st_size);
  pwrite(fd, "HELLO", 5, 0);
  memset(buf, 0, sizeof buf);
  n = pread(fd, buf, 5, 7);
  printf("pread at 7: %zd [%.*s]\n", n, (int)n, buf);
  printf("tell after pread/pwrite: %lld\n", (long long)lseek(fd, 0, SEEK_CUR));
  report("seek before start", err_of((int)lseek(fd, -100, SEEK_SET)));
  report("fsync", err_of(fsync(fd)));
  report("fdatasync", err_of(fdatasync(fd)));
  report("ftruncate", err_of(ftruncate(fd, 5)));
  fstat(fd, &st);
  printf("size after truncate=%lld\n", (long long)st.st_size);
  report("fallocate", posix_fallocate(fd, 0, 10));
  fstat(fd, &st);
  printf("size after fallocate=%lld\n", (long long)st.st_size);
  report("ftruncate back", err_of(ftruncate(fd, 5)));
  report("fadvise", posix_fadvise(fd, 0, 5, POSIX_FADV_SEQUENTIAL));
  close(fd);

  f = fopen(P("dir/a.txt"), "a");
  fputs("!", f);
  fclose(f);
  show_file("after append", P("dir/a.txt"));

  // A read-only fd lacks FD_WRITE: ENOTCAPABLE, as wasi-common reports.
  fd = open(P("dir/a.txt"), O_RDONLY);
  report("write to read-only fd", err_of((int)write(fd, "x", 1)));
  // Dropping FD_READ makes reads fail the same way.
  __wasi_fdstat_t fdstat;
  report("fdstat", __wasi_fd_fdstat_get(fd, &fdstat));
  printf("read right=%d\n", (fdstat.fs_rights_base & __WASI_RIGHTS_FD_READ) != 0);
  report("drop read right",
         __wasi_fd_fdstat_set_rights(fd, fdstat.fs_rights_base & ~__WASI_RIGHTS_FD_READ, 0));
  report("read without right", err_of((int)read(fd, buf, 1)));
  report("regain read right", __wasi_fd_fdstat_set_rights(fd, fdstat.fs_rights_base, 0));
  close(fd);

  report("rename", err_of(rename(P("dir/a.txt"), Q("dir/b.txt"))));
  report("stat old name", err_of(stat(P("dir/a.txt"), &st)));
  report("link", err_of(link(P("dir/b.txt"), Q("dir/c.txt"))));
  stat(P("dir/b.txt"), &st);
  printf("nlink=%lld\n", (long long)st.st_nlink);
  report("symlink", err_of(symlink("b.txt", P("dir/l.txt"))));
  n = readlink(P("dir/l.txt"), buf, sizeof buf);
  printf("readlink: [%.*s]\n", (int)n, buf);
  n = readlink(P("dir/l.txt"), buf, 2);
  printf("readlink short: %zd [%.*s]\n", n, (int)n, buf);
  lstat(P("dir/l.txt"), &st);
  printf("lstat is link=%d\n", S_ISLNK(st.st_mode));
  stat(P("dir/l.txt"), &st);
  printf("stat through link size=%lld\n", (long long)st.st_size);
  show_file("through link", P("dir/l.txt"));

  report("create excl", err_of(fd = open(P("dir/new"), O_CREAT | O_EXCL | O_WRONLY, 0644)));
  close(fd);
  report("create excl again", err_of(open(P("dir/new"), O_CREAT | O_EXCL | O_WRONLY, 0644)));
  report("create read-only", err_of(fd = open(P("dir/ro"), O_CREAT | O_RDONLY, 0644)));
  close(fd);
  report("open missing", err_of(open(P("missing"), O_RDONLY)));
  report("open dir for writing", err_of(open(P("dir"), O_WRONLY)));
  report("open file as dir", err_of(open(P("dir/b.txt"), O_RDONLY | O_DIRECTORY)));
  report("open through file", err_of(open(P("dir/b.txt/x"), O_RDONLY)));
  report("rmdir non-empty", err_of(rmdir(P("dir"))));

  struct timespec times[2] = {{1000000000, 0}, {1234567890, 0}};
  report("utimensat", err_of(utimensat(AT_FDCWD, P("dir/b.txt"), times, 0)));
  stat(P("dir/b.txt"), &st);
  printf("atime=%lld mtime=%lld\n", (long long)st.st_atim.tv_sec, (long long)st.st_mtim.tv_sec);
  struct timespec keep_atime[2] = {{0, UTIME_OMIT}, {1500000000, 0}};
  utimensat(AT_FDCWD, P("dir/b.txt"), keep_atime, 0);
  stat(P("dir/b.txt"), &st);
  printf("atime=%lld mtime=%lld\n", (long long)st.st_atim.tv_sec, (long long)st.st_mtim.tv_sec);

  report("unlink dir", err_of(unlink(P("dir"))));
  report("unlink b", err_of(unlink(P("dir/b.txt"))));
  report("unlink c", err_of(unlink(P("dir/c.txt"))));
  report("unlink l", err_of(unlink(P("dir/l.txt"))));
  report("unlink new", err_of(unlink(P("dir/new"))));
  report("unlink ro", err_of(unlink(P("dir/ro"))));
  report("unlink missing", err_of(unlink(P("dir/new"))));
  report("rmdir", err_of(rmdir(P("dir"))));
  report("stat removed dir", err_of(stat(P("dir"), &st)));

  // Descriptor-level calls: fdflags, times, tell, renumber, truncation on open.
  fd = open(P("flags.txt"), O_CREAT | O_RDWR | O_TRUNC, 0644);
  write(fd, "abc", 3);
  lseek(fd, 0, SEEK_SET);
  report("set append", err_of(fcntl(fd, F_SETFL, O_APPEND)));
  printf("append flag=%d\n", (fcntl(fd, F_GETFL) & O_APPEND) != 0);
  write(fd, "def", 3);
  __wasi_filesize_t position = 0;
  report("tell", __wasi_fd_tell(fd, &position));
  printf("position after append=%llu\n", (unsigned long long)position);
  report("clear append", err_of(fcntl(fd, F_SETFL, 0)));
  lseek(fd, 0, SEEK_SET);
  write(fd, "X", 1);
  struct timespec file_times[2] = {{2000000000, 0}, {2000000001, 0}};
  report("futimens", err_of(futimens(fd, file_times)));
  fstat(fd, &st);
  printf("mtime=%lld\n", (long long)st.st_mtim.tv_sec);
  int other = open(P("other.txt"), O_CREAT | O_WRONLY, 0644);
  report("renumber", __wasi_fd_renumber(fd, other));
  report("close renumbered-away fd", __wasi_fd_close(fd));
  lseek(other, 0, SEEK_SET);
  n = read(other, buf, sizeof buf);
  printf("read via new number: [%.*s]\n", (int)n, buf);
  close(other);
  report("renumber unknown", __wasi_fd_renumber(1000, 1));
  fd = open(P("flags.txt"), O_WRONLY | O_TRUNC);
  fstat(fd, &st);
  printf("size after O_TRUNC=%lld\n", (long long)st.st_size);
  close(fd);
  unlink(P("flags.txt"));
  unlink(P("other.txt"));

  f = fopen(P("result.txt"), "w");
  fputs("done\n", f);
  fclose(f);
  // Left open on purpose: the host must close it when the process ends.
  fd = open(P("result.txt"), O_RDONLY);
  printf("left open: %d\n", fd >= 0);
  return 0;
}
