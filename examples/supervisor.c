/*
 * supervisor.c: restarting a crashing worker, Erlang style.
 *
 * Usage:   deno task run examples/supervisor.wasm [jobs=8] [max_restarts=3]
 * Output:  for the defaults (process IDs as under `lunatic run`, the root being process 1):
 *     supervisor: started worker 2 (link tag 101)
 *     worker 2: job 1: 1 * 1 = 1
 *     worker 2: job 2: 2 * 2 = 4
 *     worker 2: job 3: crashing!
 *     supervisor: worker 2 crashed (restart 1/3)
 *     supervisor: started worker 3 (link tag 102)
 *     worker 3: job 3: 3 * 3 = 9
 *     worker 3: job 4: 4 * 4 = 16
 *     worker 3: job 5: crashing!
 *     supervisor: worker 3 crashed (restart 2/3)
 *     supervisor: started worker 4 (link tag 103)
 *     worker 4: job 5: 5 * 5 = 25
 *     worker 4: job 6: 6 * 6 = 36
 *     worker 4: job 7: crashing!
 *     supervisor: worker 4 crashed (restart 3/3)
 *     supervisor: started worker 5 (link tag 104)
 *     worker 5: job 7: 7 * 7 = 49
 *     worker 5: job 8: 8 * 8 = 64
 *     supervisor: 8/8 jobs done by 4 workers, 3 restarts, sum of results 204
 * Exit:    0 when every job was done; 1 when the restart limit was reached first (the
 *          summary then says "gave up"); 2 on a bad argument.
 *
 * How it works:
 *   - The supervisor (the root process) calls die_when_link_dies(0): when a linked process
 *     fails, it receives a LinkDied message instead of dying with it.
 *   - It spawns each worker linked with a fresh tag (101, 102, ...). If that worker fails,
 *     the LinkDied message carries the tag, so get_tag() tells which worker it was.
 *     (LinkDied messages do not carry the dead process's ID; we map tag -> pid ourselves.)
 *   - Jobs are handed out one at a time: the supervisor sends job j (tag TAG_JOB, u64 j) and
 *     waits for either the result (tag TAG_RESULT) or the worker's LinkDied, with one
 *     selective receive on both tags.
 *   - A worker computes j * j, but crashes (__builtin_trap(), a wasm `unreachable`) on the
 *     third job it is given. The supervisor restarts it and hands the lost job to the new
 *     worker, up to max_restarts restarts.
 *   - At the end the supervisor sends TAG_STOP; the worker returns normally, which does not
 *     trigger the link.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "lunatic.h"

#define TAG_JOB 1
#define TAG_RESULT 2
#define TAG_STOP 3
#define FIRST_LINK_TAG 101
/* A worker crashes on this job (counting the jobs it was given). */
#define CRASH_ON_JOB 3

__attribute__((constructor)) static void line_buffered_stdout(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
}

/* Entry point of a worker process. */
LUNATIC_EXPORT("worker") void worker(int64_t supervisor) {
    uint64_t self = lunatic_process_process_id();
    const int64_t tags[] = {TAG_JOB, TAG_STOP};
    for (int handled = 1;; handled++) {
        uint64_t job;
        if (lunatic_message_receive(tags, 2, LUNATIC_NO_TIMEOUT) != LUNATIC_RECEIVE_DATA ||
            lunatic_message_get_tag() == TAG_STOP || !lunatic_message_read_u64(&job)) {
            return;
        }
        if (handled == CRASH_ON_JOB) {
            printf("worker %" PRIu64 ": job %" PRIu64 ": crashing!\n", self, job);
            __builtin_trap();
        }
        uint64_t result = job * job;
        printf("worker %" PRIu64 ": job %" PRIu64 ": %" PRIu64 " * %" PRIu64 " = %" PRIu64 "\n",
               self, job, job, job, result);
        lunatic_message_create_data(TAG_RESULT, 16);
        lunatic_message_write_u64(job);
        lunatic_message_write_u64(result);
        lunatic_message_send((uint64_t)supervisor);
    }
}

static uint64_t parse_number(const char *text, uint64_t min) {
    char *end;
    uint64_t n = strtoull(text, &end, 10);
    if (*text == '\0' || *end != '\0' || n < min || n > 1000000) {
        fprintf(stderr, "usage: supervisor.wasm [jobs=8] [max_restarts=3]\n");
        exit(2);
    }
    return n;
}

/* Spawns a worker linked to us with `link_tag` and returns its process ID. */
static uint64_t start_worker(int64_t link_tag) {
    uint8_t params[LUNATIC_PARAM_SIZE];
    lunatic_param_i64(params, (int64_t)lunatic_process_process_id());
    uint64_t pid;
    if (lunatic_spawn_export(link_tag, "worker", params, sizeof params, &pid) != LUNATIC_OK) {
        char message[256];
        lunatic_error_take_string(pid, message, sizeof message);
        fprintf(stderr, "supervisor: spawn failed: %s\n", message);
        exit(1);
    }
    printf("supervisor: started worker %" PRIu64 " (link tag %" PRId64 ")\n", pid, link_tag);
    return pid;
}

int main(int argc, char **argv) {
    uint64_t jobs = argc > 1 ? parse_number(argv[1], 1) : 8;
    uint64_t max_restarts = argc > 2 ? parse_number(argv[2], 0) : 3;

    /* Turn a linked worker's failure into a LinkDied message for us. */
    lunatic_process_die_when_link_dies(0);

    int64_t link_tag = FIRST_LINK_TAG;
    uint64_t worker_pid = start_worker(link_tag);
    uint64_t workers = 1, restarts = 0, done = 0, sum = 0;
    int gave_up = 0;

    for (uint64_t job = 1; job <= jobs && !gave_up;) {
        lunatic_message_create_data(TAG_JOB, 8);
        lunatic_message_write_u64(job);
        lunatic_message_send(worker_pid);

        /* Wait for the result or for the current worker's death, whichever comes first. */
        const int64_t tags[] = {TAG_RESULT, link_tag};
        int32_t kind = lunatic_message_receive(tags, 2, LUNATIC_NO_TIMEOUT);
        if (kind == LUNATIC_RECEIVE_DATA) {
            uint64_t for_job, result;
            if (!lunatic_message_read_u64(&for_job) || !lunatic_message_read_u64(&result) ||
                for_job != job) {
                fprintf(stderr, "supervisor: bad result message\n");
                return 1;
            }
            sum += result;
            done++;
            job++;
        } else if (kind == LUNATIC_RECEIVE_LINK_DIED && lunatic_message_get_tag() == link_tag) {
            if (restarts == max_restarts) {
                printf("supervisor: worker %" PRIu64 " crashed (no restarts left)\n", worker_pid);
                gave_up = 1;
            } else {
                restarts++;
                printf("supervisor: worker %" PRIu64 " crashed (restart %" PRIu64 "/%" PRIu64
                       ")\n",
                       worker_pid, restarts, max_restarts);
                worker_pid = start_worker(++link_tag);
                workers++;
                /* `job` was lost with the worker: the loop sends it again. */
            }
        } else {
            fprintf(stderr, "supervisor: unexpected receive result %d\n", (int)kind);
            return 1;
        }
    }

    if (gave_up) {
        printf("supervisor: gave up after %" PRIu64 " restarts, %" PRIu64 "/%" PRIu64
               " jobs done by %" PRIu64 " workers, sum of results %" PRIu64 "\n",
               restarts, done, jobs, workers, sum);
        return 1;
    }
    lunatic_message_create_data(TAG_STOP, 0);
    lunatic_message_send(worker_pid);
    printf("supervisor: %" PRIu64 "/%" PRIu64 " jobs done by %" PRIu64 " workers, %" PRIu64
           " restarts, sum of results %" PRIu64 "\n",
           done, jobs, workers, restarts, sum);
    return 0;
}
