// Discovers the preopens the way wasi-libc does and prints them.
#include "wasi_util.h"

int main(void) {
  __wasi_prestat_t prestat;
  for (__wasi_fd_t fd = 3;; fd++) {
    int err = __wasi_fd_prestat_get(fd, &prestat);
    if (err != 0) {
      printf("end fd=%u err=%d\n", fd, err);
      break;
    }
    char name[512];
    size_t len = prestat.u.dir.pr_name_len;
    int name_err = __wasi_fd_prestat_dir_name(fd, (uint8_t *)name, len);
    name[len] = 0;
    printf("preopen fd=%u tag=%d len=%zu name=[%s] err=%d\n", fd, prestat.tag, len, name,
           name_err);
    if (len > 0) report("short buffer", __wasi_fd_prestat_dir_name(fd, (uint8_t *)name, len - 1));
    __wasi_fdstat_t stat;
    report("fdstat", __wasi_fd_fdstat_get(fd, &stat));
    printf("filetype=%d\n", stat.fs_filetype);
    // Shows which host directory the preopen is: the tests put a marker file of known size.
    __wasi_filestat_t marker;
    int marker_err = __wasi_path_filestat_get(fd, 0, "marker.txt", &marker);
    printf("marker err=%d size=%llu\n", marker_err,
           marker_err ? 0ull : (unsigned long long)marker.size);
    // A preopen closes like any fd (wasi-libc's preopen list does it); its number is gone.
    report("close preopen", __wasi_fd_close(fd));
    report("prestat after close", __wasi_fd_prestat_get(fd, &prestat));
  }
  report("prestat stdin", __wasi_fd_prestat_get(0, &prestat));
  report("prestat unknown", __wasi_fd_prestat_get(1000, &prestat));
  return 0;
}
