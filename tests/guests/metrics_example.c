/*
 * metrics_example.c: lunatic-rs's metrics example in C (tests/metrics.test.ts): a counter, a
 * gauge and a histogram through lunatic::metrics; then it prints "ready" and waits, so the
 * test can read the Prometheus endpoint while the process is alive.
 */
#include <stdio.h>
#include <string.h>

#include "lunatic.h"

LUNATIC_IMPORT("lunatic::metrics", "counter")
void metrics_counter(const char *name, uint32_t len, uint64_t value);
LUNATIC_IMPORT("lunatic::metrics", "increment_counter")
void metrics_increment_counter(const char *name, uint32_t len);
LUNATIC_IMPORT("lunatic::metrics", "gauge") void metrics_gauge(const char *name, uint32_t len, double v);
LUNATIC_IMPORT("lunatic::metrics", "increment_gauge")
void metrics_increment_gauge(const char *name, uint32_t len, double value);
LUNATIC_IMPORT("lunatic::metrics", "decrement_gauge")
void metrics_decrement_gauge(const char *name, uint32_t len, double value);
LUNATIC_IMPORT("lunatic::metrics", "histogram")
void metrics_histogram(const char *name, uint32_t len, double value);

#define COUNTER "lunatic::metrics_example::counter"
#define GAUGE "lunatic::metrics_example::gauge"
#define HISTOGRAM "lunatic::metrics_example::histogram"
#define N(name) name, (uint32_t)strlen(name)

int main(void) {
    metrics_counter(N(COUNTER), 42);
    for (int i = 0; i < 100; i++) {
        metrics_increment_counter(N(COUNTER));
        if (i % 50 < 25) metrics_increment_gauge(N(GAUGE), 1.0);
        else metrics_decrement_gauge(N(GAUGE), 1.0);
        metrics_histogram(N(HISTOGRAM), (double)(i % 50));
    }
    metrics_increment_gauge(N(GAUGE), 2.5);
    metrics_gauge(N("lunatic::metrics_example::set"), -1.5);
    printf("ready\n");
    fflush(stdout);
    /* A timeout, not forever: a root waiting for what nothing can send is a deadlock. */
    lunatic_message_receive_any(60000);
    return 0;
}
