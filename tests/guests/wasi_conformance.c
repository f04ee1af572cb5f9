// Corners of WASI preview1 that the official wasi-testsuite checks: sockets calls on files,
// directories opened for writing, trailing slashes on new names, nanosecond times, a symlink's
// own times, rights that only shrink, and closing or renumbering onto a preopen. The preopen
// is the one named "/"; every line is "<what>: <errno>" or a value.
#include "wasi_util.h"

#define FOLLOW __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW

static void print_mtim(const char *label, int fd, __wasi_lookupflags_t flags, const char *path) {
  __wasi_filestat_t stat;
  int err = __wasi_path_filestat_get(fd, flags, path, &stat);
  printf("%s: err=%d mtim=%llu\n", label, err, (unsigned long long)stat.mtim);
}

int main(void) {
  int root = find_preopen("/");
  if (root < 0) {
    printf("no preopen named /\n");
    return 1;
  }
  __wasi_fd_t file;
  report("create file.txt",
         __wasi_path_open(root, 0, "file.txt", __WASI_OFLAGS_CREAT,
                          __WASI_RIGHTS_FD_READ | __WASI_RIGHTS_FD_WRITE |
                              __WASI_RIGHTS_FD_FILESTAT_GET | __WASI_RIGHTS_FD_FILESTAT_SET_TIMES,
                          0, 0, &file));

  // No fd is a socket: a file is ENOTSOCK, a number that is no fd EBADF.
  uint8_t byte = 0;
  __wasi_iovec_t iov = {&byte, 1};
  __wasi_ciovec_t ciov = {&byte, 1};
  __wasi_size_t count;
  __wasi_roflags_t roflags;
  __wasi_fd_t accepted;
  report("sock_shutdown file", __wasi_sock_shutdown(file, __WASI_SDFLAGS_WR));
  report("sock_recv file", __wasi_sock_recv(file, &iov, 1, 0, &count, &roflags));
  report("sock_send file", __wasi_sock_send(file, &ciov, 1, 0, &count));
  report("sock_accept file", __wasi_sock_accept(file, 0, &accepted));
  report("sock_shutdown bad fd", __wasi_sock_shutdown(99, __WASI_SDFLAGS_WR));
  report("sock_recv bad fd", __wasi_sock_recv(99, &iov, 1, 0, &count, &roflags));
  report("sock_send bad fd", __wasi_sock_send(99, &ciov, 1, 0, &count));
  report("sock_accept bad fd", __wasi_sock_accept(99, 0, &accepted));

  // A directory cannot be opened for writing.
  __wasi_fd_t dir;
  report("open . O_DIRECTORY read+write",
         __wasi_path_open(root, FOLLOW, ".", __WASI_OFLAGS_DIRECTORY,
                          __WASI_RIGHTS_FD_READ | __WASI_RIGHTS_FD_WRITE, 0, 0, &dir));
  report("open . O_DIRECTORY read",
         __wasi_path_open(root, FOLLOW, ".", __WASI_OFLAGS_DIRECTORY, __WASI_RIGHTS_FD_READ, 0, 0,
                          &dir));

  // A new name with a trailing slash names a directory that does not exist.
  report("link file.txt link/", __wasi_path_link(root, 0, "file.txt", root, "link/"));
  report("symlink file.txt target/", __wasi_path_symlink("file.txt", root, "target/"));
  report("symlink file.txt target", __wasi_path_symlink("file.txt", root, "target"));

  // Times to the nanosecond, through the fd and through a path.
  const __wasi_timestamp_t file_time = 1600000000123456789ull;
  report("fd_filestat_set_times mtim",
         __wasi_fd_filestat_set_times(file, 0, file_time, __WASI_FSTFLAGS_MTIM));
  __wasi_filestat_t stat;
  report("fd_filestat_get", __wasi_fd_filestat_get(file, &stat));
  printf("fd mtim=%llu\n", (unsigned long long)stat.mtim);
  const __wasi_timestamp_t below = stat.mtim - 100;
  report("path_filestat_set_times mtim-100",
         __wasi_path_filestat_set_times(root, FOLLOW, "file.txt", 0, below, __WASI_FSTFLAGS_MTIM));
  print_mtim("file.txt", root, FOLLOW, "file.txt");
  // Setting only the access time keeps the modification time.
  report("set atim now",
         __wasi_fd_filestat_set_times(file, 0, 0, __WASI_FSTFLAGS_ATIM_NOW));
  print_mtim("file.txt after atim", root, FOLLOW, "file.txt");

  // Without SYMLINK_FOLLOW, a symlink's own times; its target keeps its own.
  const __wasi_timestamp_t link_time = 1500000000987654321ull;
  report("set target's own mtim",
         __wasi_path_filestat_set_times(root, 0, "target", 0, link_time, __WASI_FSTFLAGS_MTIM));
  print_mtim("target nofollow", root, 0, "target");
  print_mtim("target follow", root, FOLLOW, "target");
  report("contradictory flags",
         __wasi_path_filestat_set_times(root, 0, "target", 0, link_time,
                                        __WASI_FSTFLAGS_MTIM | __WASI_FSTFLAGS_MTIM_NOW));

  // Rights: a directory passes on only what it may; an fd's rights only shrink.
  __wasi_fd_t limited;
  report("open . without PATH_FILESTAT_SET_SIZE",
         __wasi_path_open(root, FOLLOW, ".", __WASI_OFLAGS_DIRECTORY,
                          __WASI_RIGHTS_PATH_OPEN | __WASI_RIGHTS_FD_READDIR,
                          __WASI_RIGHTS_FD_READ | __WASI_RIGHTS_FD_WRITE, 0, &limited));
  __wasi_fd_t other;
  report("O_TRUNC through it",
         __wasi_path_open(limited, 0, "file.txt", __WASI_OFLAGS_TRUNC, __WASI_RIGHTS_FD_WRITE, 0, 0,
                          &other));
  report("O_CREAT through it",
         __wasi_path_open(limited, 0, "new.txt", __WASI_OFLAGS_CREAT, __WASI_RIGHTS_FD_WRITE, 0, 0,
                          &other));
  report("open with more rights than it passes on",
         __wasi_path_open(limited, 0, "file.txt", 0,
                          __WASI_RIGHTS_FD_READ | __WASI_RIGHTS_FD_WRITE | __WASI_RIGHTS_FD_SEEK, 0,
                          0, &other));
  __wasi_fdstat_t fdstat;
  report("fdstat", __wasi_fd_fdstat_get(other, &fdstat));
  printf("rights read=%d write=%d seek=%d\n",
         (fdstat.fs_rights_base & __WASI_RIGHTS_FD_READ) != 0,
         (fdstat.fs_rights_base & __WASI_RIGHTS_FD_WRITE) != 0,
         (fdstat.fs_rights_base & __WASI_RIGHTS_FD_SEEK) != 0);
  report("grow rights", __wasi_fd_fdstat_set_rights(other, __WASI_RIGHTS_FD_READ |
                                                               __WASI_RIGHTS_FD_WRITE |
                                                               __WASI_RIGHTS_FD_SEEK, 0));
  report("shrink rights", __wasi_fd_fdstat_set_rights(other, __WASI_RIGHTS_FD_READ, 0));
  report("grow back", __wasi_fd_fdstat_set_rights(other, __WASI_RIGHTS_FD_READ |
                                                             __WASI_RIGHTS_FD_WRITE, 0));

  // A preopen's number can be taken over, and a preopen closed, like any fd.
  report("renumber file onto preopen", __wasi_fd_renumber(other, root));
  __wasi_prestat_t prestat;
  report("prestat of the renumbered fd", __wasi_fd_prestat_get(root, &prestat));
  report("fdstat of the renumbered fd", __wasi_fd_fdstat_get(root, &fdstat));
  printf("filetype=%d\n", fdstat.fs_filetype);
  report("close the old number", __wasi_fd_close(other));
  report("close the directory fd", __wasi_fd_close(limited));
  report("close it again", __wasi_fd_close(limited));
  return 0;
}
