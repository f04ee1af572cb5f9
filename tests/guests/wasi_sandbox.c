// Tries to leave the preopen named argv[1] in every way the host must refuse (EPERM = 63),
// next to lookups that stay inside and must work. Raw WASI calls, so libc cannot intervene.
#include <errno.h>
#include <stdio.h>
#include "wasi_util.h"

static int root_fd;

// errno of path_open on `path` (closing the fd on success).
static int try_open(const char *path, __wasi_lookupflags_t lookup, __wasi_oflags_t oflags) {
  __wasi_fd_t fd;
  __wasi_rights_t rights = __WASI_RIGHTS_FD_READ | __WASI_RIGHTS_FD_READDIR;
  int err = __wasi_path_open(root_fd, lookup, path, oflags, rights, rights, 0, &fd);
  if (err == 0) (void)__wasi_fd_close(fd);
  return err;
}

#define FOLLOW __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW

int main(int argc, char **argv) {
  if (argc < 2) return 100;
  root_fd = find_preopen(argv[1]);
  if (root_fd < 0) return 101;

  report("open ../outside.txt", try_open("../outside.txt", FOLLOW, 0));
  report("open /etc/passwd", try_open("/etc/passwd", FOLLOW, 0));
  report("open sub/../../outside.txt", try_open("sub/../../outside.txt", FOLLOW, 0));
  report("open ..", try_open("..", FOLLOW, __WASI_OFLAGS_DIRECTORY));
  report("open escape_link/secret.txt", try_open("escape_link/secret.txt", FOLLOW, 0));
  report("open escape_link", try_open("escape_link", FOLLOW, __WASI_OFLAGS_DIRECTORY));
  report("open abs_link/passwd", try_open("abs_link/passwd", FOLLOW, 0));
  report("open sneaky_link", try_open("sneaky_link", FOLLOW, 0));
  report("create through escape_link",
         try_open("escape_link/planted.txt", FOLLOW, __WASI_OFLAGS_CREAT));
  report("open loop_a", try_open("loop_a", FOLLOW, 0));
  report("open non-utf8", try_open("\xff\xfe", FOLLOW, 0));

  report("open sub/inside.txt", try_open("sub/inside.txt", FOLLOW, 0));
  report("open sub/../sub/inside.txt", try_open("sub/../sub/inside.txt", FOLLOW, 0));
  report("open inner_link", try_open("inner_link", FOLLOW, 0));
  report("open inner_link nofollow", try_open("inner_link", 0, 0));
  report("open .", try_open(".", FOLLOW, __WASI_OFLAGS_DIRECTORY));

  // Reading through the inner link reaches the file inside.
  __wasi_fd_t fd;
  char buf[64] = {0};
  size_t n = 0;
  if (__wasi_path_open(root_fd, FOLLOW, "inner_link", 0, __WASI_RIGHTS_FD_READ, 0, 0, &fd) == 0) {
    __wasi_iovec_t iov = {(uint8_t *)buf, sizeof buf - 1};
    (void)__wasi_fd_read(fd, &iov, 1, &n);
    (void)__wasi_fd_close(fd);
  }
  printf("inner_link content: [%.*s]\n", (int)n, buf);

  // A directory opened under the preopen cannot climb out of its own tree, even to a place
  // still inside the preopen.
  __wasi_fd_t sub_fd;
  report("open sub dir", __wasi_path_open(root_fd, FOLLOW, "sub", __WASI_OFLAGS_DIRECTORY,
                                          __WASI_RIGHTS_FD_READDIR | __WASI_RIGHTS_PATH_OPEN,
                                          ~0ull, 0, &sub_fd));
  __wasi_fd_t other;
  report("sub: open ../../outside.txt",
         __wasi_path_open(sub_fd, FOLLOW, "../../outside.txt", 0, __WASI_RIGHTS_FD_READ, 0, 0,
                          &other));
  report("sub: open ../sub/inside.txt",
         __wasi_path_open(sub_fd, FOLLOW, "../sub/inside.txt", 0, __WASI_RIGHTS_FD_READ, 0, 0,
                          &other));
  report("sub: open inside.txt",
         __wasi_path_open(sub_fd, FOLLOW, "inside.txt", 0, __WASI_RIGHTS_FD_READ, 0, 0, &other));
  // Without PATH_OPEN among its rights, a directory fd opens nothing.
  __wasi_fd_t listing_fd;
  report("open sub dir to list only",
         __wasi_path_open(root_fd, FOLLOW, "sub", __WASI_OFLAGS_DIRECTORY,
                          __WASI_RIGHTS_FD_READDIR, ~0ull, 0, &listing_fd));
  report("listing sub: open inside.txt",
         __wasi_path_open(listing_fd, FOLLOW, "inside.txt", 0, __WASI_RIGHTS_FD_READ, 0, 0,
                          &other));

  __wasi_filestat_t stat;
  report("stat escape_link nofollow", __wasi_path_filestat_get(root_fd, 0, "escape_link", &stat));
  printf("escape_link filetype=%d\n", stat.filetype);
  report("stat escape_link follow", __wasi_path_filestat_get(root_fd, FOLLOW, "escape_link", &stat));
  report("stat ..", __wasi_path_filestat_get(root_fd, FOLLOW, "..", &stat));
  report("mkdir ../newdir", __wasi_path_create_directory(root_fd, "../newdir"));
  report("rename out", __wasi_path_rename(root_fd, "sub/inside.txt", root_fd, "../stolen.txt"));
  report("rename in", __wasi_path_rename(root_fd, "../outside.txt", root_fd, "taken.txt"));
  report("symlink absolute", __wasi_path_symlink("/etc/passwd", root_fd, "new_abs_link"));
  report("link out", __wasi_path_link(root_fd, 0, "../outside.txt", root_fd, "hardlink"));
  report("unlink out", __wasi_path_unlink_file(root_fd, "../outside.txt"));
  report("rmdir out", __wasi_path_remove_directory(root_fd, "../outside_dir"));
  report("unlink escape_link itself", __wasi_path_unlink_file(root_fd, "escape_link"));

  // libc resolves absolute paths against the preopen names itself; this one matches none.
  FILE *f = fopen("/etc/passwd", "r");
  printf("libc fopen /etc/passwd: %s\n", f ? "opened" : "refused");
  return 0;
}
