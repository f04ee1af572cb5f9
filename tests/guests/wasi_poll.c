// poll_oneoff: sleeps, the earliest of several clocks, absolute deadlines, ready fds, errors.
#include <sched.h>
#include <stdio.h>
#include <unistd.h>
#include "wasi_util.h"

static __wasi_timestamp_t now_ns(void) {
  __wasi_timestamp_t t = 0;
  (void)__wasi_clock_time_get(__WASI_CLOCKID_MONOTONIC, 1, &t);
  return t;
}

static __wasi_subscription_t clock_sub(__wasi_userdata_t userdata, __wasi_clockid_t clock,
                                       __wasi_timestamp_t timeout, __wasi_subclockflags_t flags) {
  __wasi_subscription_t sub = {0};
  sub.userdata = userdata;
  sub.u.tag = __WASI_EVENTTYPE_CLOCK;
  sub.u.u.clock.id = clock;
  sub.u.u.clock.timeout = timeout;
  sub.u.u.clock.flags = flags;
  return sub;
}

static __wasi_subscription_t fd_sub(__wasi_userdata_t userdata, __wasi_eventtype_t type,
                                    __wasi_fd_t fd) {
  __wasi_subscription_t sub = {0};
  sub.userdata = userdata;
  sub.u.tag = type;
  sub.u.u.fd_read.file_descriptor = fd;
  return sub;
}

static void show(const char *label, __wasi_subscription_t *subs, size_t count) {
  __wasi_event_t events[4];
  __wasi_size_t nevents = 0;
  __wasi_timestamp_t start = now_ns();
  int err = __wasi_poll_oneoff(subs, events, count, &nevents);
  unsigned long long elapsed_ms = (now_ns() - start) / 1000000;
  printf("%s: err=%d nevents=%lu", label, err, (unsigned long)nevents);
  for (__wasi_size_t i = 0; i < nevents && err == 0; i++) {
    printf(" [userdata=%llu error=%d type=%d]", (unsigned long long)events[i].userdata,
           events[i].error, events[i].type);
  }
  printf(" elapsed_ms=%llu\n", elapsed_ms);
}

int main(void) {
  __wasi_timestamp_t start = now_ns();
  usleep(100000);
  printf("usleep(100ms) slept>=100ms: %d\n", now_ns() - start >= 100000000ull);

  __wasi_subscription_t two_clocks[2] = {
      clock_sub(11, __WASI_CLOCKID_MONOTONIC, 30000000, 0),
      clock_sub(22, __WASI_CLOCKID_MONOTONIC, 5000000000ull, 0),
  };
  show("two clocks", two_clocks, 2);

  __wasi_subscription_t absolute[1] = {
      clock_sub(33, __WASI_CLOCKID_MONOTONIC, now_ns() + 40000000, __WASI_SUBCLOCKFLAGS_SUBSCRIPTION_CLOCK_ABSTIME),
  };
  show("absolute", absolute, 1);

  __wasi_timestamp_t wall;
  (void)__wasi_clock_time_get(__WASI_CLOCKID_REALTIME, 1, &wall);
  __wasi_subscription_t realtime[1] = {
      clock_sub(34, __WASI_CLOCKID_REALTIME, wall + 40000000, __WASI_SUBCLOCKFLAGS_SUBSCRIPTION_CLOCK_ABSTIME),
  };
  show("absolute realtime", realtime, 1);

  __wasi_subscription_t past[1] = {
      clock_sub(35, __WASI_CLOCKID_MONOTONIC, 1, __WASI_SUBCLOCKFLAGS_SUBSCRIPTION_CLOCK_ABSTIME),
  };
  show("past deadline", past, 1);

  __wasi_subscription_t write_ready[2] = {
      fd_sub(44, __WASI_EVENTTYPE_FD_WRITE, 1),
      clock_sub(55, __WASI_CLOCKID_MONOTONIC, 5000000000ull, 0),
  };
  show("stdout writable", write_ready, 2);

  __wasi_subscription_t read_ready[2] = {
      fd_sub(66, __WASI_EVENTTYPE_FD_READ, 0),
      fd_sub(77, __WASI_EVENTTYPE_FD_READ, 99),
  };
  show("stdin and unknown fd", read_ready, 2);

  __wasi_subscription_t bad_clock[1] = {clock_sub(88, 42, 1000, 0)};
  show("unknown clock", bad_clock, 1);

  __wasi_event_t event;
  __wasi_size_t nevents;
  report("no subscriptions", __wasi_poll_oneoff(two_clocks, &event, 0, &nevents));
  report("sched_yield", sched_yield());
  return 0;
}
