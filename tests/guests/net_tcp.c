/*
 * net_tcp.c: lunatic::networking's TCP (tests/networking_tcp.test.ts). Every scenario is an
 * export run as the root; most play both sides on 127.0.0.1, the peer being a child process.
 * Output lines are "<who>: <what>".
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lunatic.h"

__attribute__((constructor)) static void line_buffered_stdout(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
}

static const char *status_text(int32_t status, uint64_t id) {
    static char text[300];
    if (status == LUNATIC_OK) return "ok";
    if (status == LUNATIC_TIMEOUT) return "timeout";
    if (status == LUNATIC_ERROR) {
        lunatic_error_take_string(id, text, sizeof text);
        return text;
    }
    snprintf(text, sizeof text, "status %d", status);
    return text;
}

static void die(const char *who, const char *what, int32_t status, uint64_t id) {
    printf("%s: %s failed: %s\n", who, what, status_text(status, id));
    exit(1);
}

static uint64_t listen_local(uint16_t *port) {
    uint64_t listener;
    int32_t status = lunatic_tcp_bind_ipv4(127, 0, 0, 1, 0, &listener);
    if (status != LUNATIC_OK) die("root", "bind", status, listener);
    *port = lunatic_tcp_listener_port(listener);
    return listener;
}

static uint64_t connect_local(const char *who, uint16_t port) {
    uint8_t addr[4] = {127, 0, 0, 1};
    uint64_t stream;
    int32_t status = lunatic_networking_tcp_connect(LUNATIC_NET_ADDR_IPV4, addr, port, 0, 0,
                                                    LUNATIC_NO_TIMEOUT, &stream);
    if (status != LUNATIC_OK) die(who, "connect", status, stream);
    return stream;
}

static uint64_t accept_one(uint64_t listener) {
    uint64_t stream, peer;
    int32_t status = lunatic_networking_tcp_accept(listener, &stream, &peer);
    if (status != LUNATIC_OK) die("root", "accept", status, stream);
    lunatic_networking_drop_dns_iterator(peer);
    return stream;
}

/* Reads until `len` bytes or the end; returns the count. */
static uint32_t read_some(const char *who, uint64_t stream, char *buf, uint32_t len) {
    uint64_t got = 0;
    int32_t status = lunatic_networking_tcp_read(stream, (uint8_t *)buf, len, &got);
    if (status != LUNATIC_OK) die(who, "read", status, got);
    return (uint32_t)got;
}

static void write_text(const char *who, uint64_t stream, const char *text) {
    uint64_t error;
    int32_t status = lunatic_tcp_write_all(stream, text, (uint32_t)strlen(text), &error);
    if (status != LUNATIC_OK) die(who, "write", status, error);
}

/* Spawns `function` of this module with the i32 and i64 parameters. */
static uint64_t spawn_with(const char *function, int32_t a, int64_t b) {
    uint8_t params[2 * LUNATIC_PARAM_SIZE];
    lunatic_param_i64(lunatic_param_i32(params, a), b);
    uint64_t child;
    if (lunatic_spawn_export(LUNATIC_NO_LINK, function, params, sizeof params, &child) !=
        LUNATIC_OK) {
        printf("root: spawn %s failed\n", function);
        exit(1);
    }
    return child;
}

static void await_death(uint64_t pid) {
    lunatic_process_monitor(pid);
    for (;;) {
        if (lunatic_message_receive_any(LUNATIC_NO_TIMEOUT) == LUNATIC_RECEIVE_PROCESS_DIED &&
            lunatic_message_get_process_id() == pid) {
            return;
        }
    }
}

static void signal_process(uint64_t pid) {
    lunatic_message_create_data(LUNATIC_UNTAGGED, 0);
    lunatic_message_send(pid);
}

static void print_address(const char *who, const char *what, uint64_t iter, uint16_t expected) {
    uint32_t type = 0, flow = 7, scope = 7;
    uint8_t addr[16] = {0};
    uint16_t port = 0;
    if (lunatic_networking_resolve_next(iter, &type, addr, &port, &flow, &scope) != LUNATIC_OK) {
        printf("%s: %s: empty iterator\n", who, what);
        return;
    }
    if (type == 4) {
        printf("%s: %s 4 %u.%u.%u.%u port %s\n", who, what, addr[0], addr[1], addr[2], addr[3],
               expected == 0 ? (port != 0 ? "set" : "0") : (port == expected ? "matches" : "WRONG"));
    } else {
        int loopback = addr[15] == 1;
        for (int i = 0; i < 15; i++) loopback &= addr[i] == 0;
        printf("%s: %s 6 %s flow %u scope %u port %s\n", who, what, loopback ? "::1" : "other",
               flow, scope, expected == 0 ? (port != 0 ? "set" : "0") : (port == expected ? "matches" : "WRONG"));
    }
    printf("%s: %s then %s\n", who, what,
           lunatic_networking_resolve_next(iter, &type, addr, &port, &flow, &scope) == 1 ? "exhausted" : "MORE");
    lunatic_networking_drop_dns_iterator(iter);
}

/* ---- loopback: bind, addresses, accept, peek, read, vectored write, flush ----------------- */

LUNATIC_EXPORT("client_hello") void client_hello(int32_t port, int64_t parent) {
    (void)parent;
    uint64_t stream = connect_local("client", (uint16_t)port);
    write_text("client", stream, "hello");
    char buf[64];
    uint32_t n = read_some("client", stream, buf, sizeof buf - 1);
    buf[n] = 0;
    printf("client: got %s\n", buf);
    printf("client: then %s\n", read_some("client", stream, buf, sizeof buf) == 0 ? "eof" : "MORE");
    lunatic_networking_drop_tcp_stream(stream);
}

LUNATIC_EXPORT("loopback") void loopback(void) {
    uint16_t port;
    uint64_t listener = listen_local(&port);
    uint64_t iter;
    lunatic_networking_tcp_local_addr(listener, &iter);
    print_address("root", "local", iter, port);
    uint64_t child = spawn_with("client_hello", port, 0);
    uint64_t stream, peer;
    int32_t status = lunatic_networking_tcp_accept(listener, &stream, &peer);
    if (status != LUNATIC_OK) die("root", "accept", status, stream);
    print_address("root", "accepted peer", peer, 0);
    uint64_t peer2;
    lunatic_networking_tcp_peer_addr(stream, &peer2);
    print_address("root", "peer_addr", peer2, 0);
    char buf[16] = {0};
    uint64_t got = 0;
    /* Peek until the whole greeting is there; then the read sees it again. */
    do {
        status = lunatic_networking_tcp_peek(stream, (uint8_t *)buf, 5, &got);
        if (status != LUNATIC_OK) die("root", "peek", status, got);
    } while (got < 5);
    printf("root: peeked %.5s\n", buf);
    memset(buf, 0, sizeof buf);
    uint32_t n = 0;
    while (n < 5) n += read_some("root", stream, buf + n, 5 - n);
    printf("root: read %s\n", buf);
    const char *a = "wor", *b = "ld";
    uint32_t iov[4] = {(uint32_t)(uintptr_t)a, 3, (uint32_t)(uintptr_t)b, 2};
    uint64_t written = 0;
    status = lunatic_networking_tcp_write_vectored(stream, iov, 2, &written);
    printf("root: vectored write %s, %" PRIu64 " bytes\n", status_text(status, written), written);
    uint64_t error = 99;
    status = lunatic_networking_tcp_flush(stream, &error);
    printf("root: flush %d, error slot %" PRIu64 "\n", status, error);
    lunatic_networking_drop_tcp_stream(stream);
    await_death(child);
    lunatic_networking_drop_tcp_listener(listener);
    printf("root: done\n");
}

/* ---- timeouts ------------------------------------------------------------------------------ */

/* Connects, waits for a message, writes "late", waits for another, exits. */
LUNATIC_EXPORT("late_client") void late_client(int32_t port, int64_t parent) {
    (void)parent;
    uint64_t stream = connect_local("client", (uint16_t)port);
    lunatic_message_receive_any(LUNATIC_NO_TIMEOUT);
    write_text("client", stream, "late");
    lunatic_message_receive_any(LUNATIC_NO_TIMEOUT);
    lunatic_networking_drop_tcp_stream(stream);
}

static void print_timeout(const char *what, uint64_t ms) {
    if (ms == UINT64_MAX) printf("root: %s none\n", what);
    else printf("root: %s %" PRIu64 "\n", what, ms);
}

LUNATIC_EXPORT("timeouts") void timeouts(void) {
    uint16_t port;
    uint64_t listener = listen_local(&port);
    uint64_t child = spawn_with("late_client", port, (int64_t)lunatic_process_process_id());
    uint64_t stream = accept_one(listener);
    print_timeout("read timeout", lunatic_networking_get_read_timeout(stream));
    lunatic_networking_set_read_timeout(stream, 30);
    lunatic_networking_set_write_timeout(stream, 1000);
    lunatic_networking_set_peek_timeout(stream, 20);
    /* A clone shares the timeouts: they belong to the connection. */
    uint64_t clone = lunatic_networking_clone_tcp_stream(stream);
    print_timeout("clone's read timeout", lunatic_networking_get_read_timeout(clone));
    print_timeout("clone's write timeout", lunatic_networking_get_write_timeout(clone));
    print_timeout("clone's peek timeout", lunatic_networking_get_peek_timeout(clone));
    char buf[16] = {0};
    uint64_t got = 77;
    int32_t status = lunatic_networking_tcp_read(stream, (uint8_t *)buf, sizeof buf, &got);
    printf("root: idle read %s, count slot %" PRIu64 "\n", status_text(status, got), got);
    status = lunatic_networking_tcp_peek(stream, (uint8_t *)buf, sizeof buf, &got);
    printf("root: idle peek %s\n", status_text(status, got));
    signal_process(child); /* now write */
    lunatic_networking_set_read_timeout(stream, UINT64_MAX);
    print_timeout("read timeout", lunatic_networking_get_read_timeout(stream));
    uint32_t n = 0;
    while (n < 4) n += read_some("root", stream, buf + n, 4 - n);
    printf("root: then read %.4s\n", buf);
    signal_process(child);
    await_death(child);
    lunatic_networking_drop_tcp_stream(clone);
    lunatic_networking_drop_tcp_stream(stream);
}

/* ---- errors: a closed port, an address in use ---------------------------------------------- */

LUNATIC_EXPORT("refused") void refused(void) {
    uint16_t port;
    uint64_t listener = listen_local(&port);
    lunatic_networking_drop_tcp_listener(listener);
    uint8_t addr[4] = {127, 0, 0, 1};
    uint64_t id;
    int32_t status = lunatic_networking_tcp_connect(LUNATIC_NET_ADDR_IPV4, addr, port, 0, 0,
                                                    LUNATIC_NO_TIMEOUT, &id);
    printf("root: connect to a closed port: %d %s\n", status, status_text(status, id));
}

LUNATIC_EXPORT("in_use") void in_use(void) {
    uint16_t port;
    uint64_t listener = listen_local(&port);
    uint64_t id;
    int32_t status = lunatic_tcp_bind_ipv4(127, 0, 0, 1, port, &id);
    printf("root: bind a port in use: %d %s\n", status, status_text(status, id));
    lunatic_networking_drop_tcp_listener(listener);
    status = lunatic_tcp_bind_ipv4(127, 0, 0, 1, port, &id);
    printf("root: bind it once freed: %s\n", status_text(status, id));
}

/* A peer (the test's) resets the connection once it has our byte: the read waiting for its
 * answer fails with the OS's text, and the next one finds the end of the stream. */
LUNATIC_EXPORT("reset") void reset(int32_t port) {
    uint64_t stream = connect_local("root", (uint16_t)port);
    write_text("root", stream, "x");
    char buf[16];
    uint64_t got = 0;
    int32_t status = lunatic_networking_tcp_read(stream, (uint8_t *)buf, sizeof buf, &got);
    printf("root: read after the peer's reset: %d %s\n", status, status_text(status, got));
    status = lunatic_networking_tcp_read(stream, (uint8_t *)buf, sizeof buf, &got);
    printf("root: the next read: %s, %llu bytes\n", status_text(status, got),
           (unsigned long long)got);
    lunatic_networking_drop_tcp_stream(stream);
}

/* ---- streams in messages: move, clone, drop, the owner's end ------------------------------- */

/* Connects and prints everything it reads until the end of the stream. */
LUNATIC_EXPORT("reader") void reader(int32_t port, int64_t parent) {
    uint64_t stream = connect_local("reader", (uint16_t)port);
    signal_process((uint64_t)parent); /* connected */
    char all[512] = {0};
    uint32_t used = 0, n;
    while ((n = read_some("reader", stream, all + used, sizeof all - 1 - used)) > 0) used += n;
    for (char *line = strtok(all, "\n"); line != NULL; line = strtok(NULL, "\n")) {
        printf("reader: %s\n", line);
    }
    printf("reader: eof\n");
    lunatic_networking_drop_tcp_stream(stream);
}

/* Takes the stream from its first message, writes a line and ends (dropping nothing). */
LUNATIC_EXPORT("writer") void writer(int32_t crash, int64_t parent) {
    (void)parent;
    if (lunatic_message_receive_any(LUNATIC_NO_TIMEOUT) != LUNATIC_RECEIVE_DATA) exit(2);
    uint64_t stream = lunatic_message_take_tcp_stream(0);
    write_text("writer", stream, "from the writer\n");
    if (crash) __builtin_trap();
}

static void send_stream(uint64_t to, uint64_t stream) {
    lunatic_message_create_data(LUNATIC_UNTAGGED, 0);
    uint64_t index = lunatic_message_push_tcp_stream(stream);
    if (index != 0) printf("root: pushed at index %" PRIu64 "\n", index);
    lunatic_message_send(to);
}

LUNATIC_EXPORT("move_and_clone") void move_and_clone(void) {
    uint16_t port;
    uint64_t listener = listen_local(&port);
    uint64_t me = lunatic_process_process_id();
    uint64_t reading = spawn_with("reader", port, (int64_t)me);
    uint64_t stream = accept_one(listener);
    lunatic_message_receive_any(LUNATIC_NO_TIMEOUT); /* the reader is connected */
    uint64_t clone = lunatic_networking_clone_tcp_stream(stream);
    printf("root: clone id %s\n", clone != stream ? "differs" : "SAME");
    uint64_t writing = spawn_with("writer", 0, (int64_t)me);
    send_stream(writing, stream);
    await_death(writing); /* its handle went with it; the clone keeps the connection open */
    write_text("root", clone, "from the root\n");
    lunatic_networking_drop_tcp_stream(clone); /* the last handle: the reader sees the end */
    await_death(reading);
}

LUNATIC_EXPORT("owner_fails") void owner_fails(void) {
    uint16_t port;
    uint64_t listener = listen_local(&port);
    uint64_t me = lunatic_process_process_id();
    uint64_t reading = spawn_with("reader", port, (int64_t)me);
    uint64_t stream = accept_one(listener);
    lunatic_message_receive_any(LUNATIC_NO_TIMEOUT);
    uint64_t writing = spawn_with("writer", 1, (int64_t)me);
    send_stream(writing, stream); /* the writer writes, then traps holding the only handle */
    await_death(reading);
}

LUNATIC_EXPORT("undelivered") void undelivered(void) {
    uint16_t port;
    uint64_t listener = listen_local(&port);
    uint64_t me = lunatic_process_process_id();
    uint64_t reading = spawn_with("reader", port, (int64_t)me);
    uint64_t stream = accept_one(listener);
    lunatic_message_receive_any(LUNATIC_NO_TIMEOUT);
    write_text("root", stream, "before the message\n");
    send_stream(999999, stream); /* no such process: the message and its stream are dropped */
    await_death(reading);
}

/* ---- a reader killed while its read is in flight ------------------------------------------ */

/* Connects, writes a line when told to, and waits until told to end. */
LUNATIC_EXPORT("late_sender") void late_sender(int32_t port, int64_t parent) {
    (void)parent;
    uint64_t stream = connect_local("sender", (uint16_t)port);
    lunatic_message_receive_any(LUNATIC_NO_TIMEOUT);
    write_text("sender", stream, "late bytes");
    lunatic_message_receive_any(LUNATIC_NO_TIMEOUT);
}

/* At the same address in every instance of this module. */
static char read_into[64];

/* Takes the stream, tells its parent, and reads into read_into until it is killed. */
LUNATIC_EXPORT("blocked_reader") void blocked_reader(int32_t unused, int64_t parent) {
    (void)unused;
    if (lunatic_message_receive_any(LUNATIC_NO_TIMEOUT) != LUNATIC_RECEIVE_DATA) exit(2);
    uint64_t stream = lunatic_message_take_tcp_stream(0);
    signal_process((uint64_t)parent);
    read_some("blocked reader", stream, read_into, sizeof read_into);
    printf("blocked reader: NOT REACHED\n");
}

/* Tells its parent it runs; when told, says whether its read_into is still all zero. */
LUNATIC_EXPORT("checker") void checker(int32_t unused, int64_t parent) {
    (void)unused;
    signal_process((uint64_t)parent);
    lunatic_message_receive_any(LUNATIC_NO_TIMEOUT);
    int zero = 1;
    for (size_t i = 0; i < sizeof read_into; i++) zero &= read_into[i] == 0;
    printf("checker: its buffer is %s\n", zero ? "untouched" : "WRITTEN");
}

static void await_monitored_death(uint64_t pid) {
    while (lunatic_message_receive_any(LUNATIC_NO_TIMEOUT) != LUNATIC_RECEIVE_PROCESS_DIED ||
           lunatic_message_get_process_id() != pid) {}
}

/*
 * A read goes straight into the reader's memory. The reader is killed while it waits; the
 * bytes that come next go to the stream's clone, and a process spawned meanwhile (which may
 * get a memory from the pool) finds nothing written into its own.
 */
LUNATIC_EXPORT("killed_reader") void killed_reader(void) {
    uint16_t port;
    uint64_t listener = listen_local(&port);
    uint64_t me = lunatic_process_process_id();
    uint64_t sender = spawn_with("late_sender", port, (int64_t)me);
    uint64_t stream = accept_one(listener);
    uint64_t clone = lunatic_networking_clone_tcp_stream(stream);
    uint64_t reader = spawn_with("blocked_reader", 0, (int64_t)me);
    lunatic_process_monitor(reader);
    send_stream(reader, stream);
    lunatic_message_receive_any(LUNATIC_NO_TIMEOUT); /* it has the stream */
    lunatic_process_sleep_ms(50);                    /* and waits in its read */
    lunatic_process_kill(reader);
    await_monitored_death(reader);
    printf("root: the reader was killed\n");
    uint64_t check = spawn_with("checker", 0, (int64_t)me);
    lunatic_process_monitor(check);
    lunatic_message_receive_any(LUNATIC_NO_TIMEOUT); /* it runs */
    signal_process(sender);                          /* now write */
    char buf[64] = {0};
    uint32_t n = 0;
    while (n < 10) n += read_some("root", clone, buf + n, sizeof buf - 1 - n);
    printf("root: the clone read %s\n", buf);
    signal_process(check);
    await_monitored_death(check);
    signal_process(sender);
    lunatic_networking_drop_tcp_stream(clone);
    lunatic_networking_drop_tcp_listener(listener);
}

/* ---- cycles: connect, accept, exit; nothing stays open ------------------------------------ */

LUNATIC_EXPORT("connect_and_exit") void connect_and_exit(int32_t port, int64_t parent) {
    (void)parent;
    connect_local("client", (uint16_t)port); /* never dropped: ending closes it */
}

LUNATIC_EXPORT("cycles") void cycles(int32_t count) {
    uint16_t port;
    uint64_t listener = listen_local(&port);
    for (int32_t i = 0; i < count; i++) {
        uint64_t child = spawn_with("connect_and_exit", port, 0);
        uint64_t stream = accept_one(listener);
        char buf[4];
        read_some("root", stream, buf, sizeof buf); /* the end: the child closed by ending */
        if (i % 2 == 0) lunatic_networking_drop_tcp_stream(stream); /* the rest: the root's end */
        lunatic_process_monitor(child);
        while (lunatic_message_receive_any(LUNATIC_NO_TIMEOUT) != LUNATIC_RECEIVE_PROCESS_DIED) {}
    }
    printf("root: %d cycles\n", count);
}

/* ---- backpressure and scheduling ----------------------------------------------------------- */

/* Connects and never reads; waits to be killed. */
LUNATIC_EXPORT("idle_client") void idle_client(int32_t port, int64_t parent) {
    uint64_t stream = connect_local("idle", (uint16_t)port);
    signal_process((uint64_t)parent);
    lunatic_message_receive_any(LUNATIC_NO_TIMEOUT);
    lunatic_networking_drop_tcp_stream(stream);
}

LUNATIC_EXPORT("backpressure") void backpressure(void) {
    uint16_t port;
    uint64_t listener = listen_local(&port);
    uint64_t child = spawn_with("idle_client", port, (int64_t)lunatic_process_process_id());
    uint64_t stream = accept_one(listener);
    lunatic_message_receive_any(LUNATIC_NO_TIMEOUT);
    lunatic_networking_set_write_timeout(stream, 200);
    static uint8_t chunk[65536];
    uint64_t total = 0;
    for (int i = 0; i < 4096; i++) { /* at most 256 MiB */
        uint32_t iov[2] = {(uint32_t)(uintptr_t)chunk, sizeof chunk};
        uint64_t written = 0;
        int32_t status = lunatic_networking_tcp_write_vectored(stream, iov, 1, &written);
        if (status == LUNATIC_TIMEOUT) {
            printf("root: a write timed out after %" PRIu64 " KiB\n", total / 1024);
            break;
        }
        if (status != LUNATIC_OK) die("root", "write", status, written);
        total += written;
    }
    lunatic_process_kill(child);
    lunatic_networking_drop_tcp_stream(stream);
}

LUNATIC_EXPORT("spin") void spin(int32_t a, int64_t b) {
    (void)a;
    (void)b;
    for (volatile uint64_t i = 0;; i++) {}
}

/* Echoes what it reads until the end. */
LUNATIC_EXPORT("echo_client") void echo_client(int32_t port, int64_t parent) {
    (void)parent;
    uint64_t stream = connect_local("echo", (uint16_t)port);
    char buf[256];
    uint32_t n;
    uint64_t error;
    while ((n = read_some("echo", stream, buf, sizeof buf)) > 0) {
        if (lunatic_tcp_write_all(stream, buf, n, &error) != LUNATIC_OK) break;
    }
}

LUNATIC_EXPORT("beside_spinners") void beside_spinners(int32_t rounds) {
    uint64_t spinners[2] = {spawn_with("spin", 0, 0), spawn_with("spin", 0, 0)};
    uint16_t port;
    uint64_t listener = listen_local(&port);
    spawn_with("echo_client", port, 0);
    uint64_t stream = accept_one(listener);
    char buf[8];
    int ok = 0;
    for (int32_t i = 0; i < rounds; i++) {
        write_text("root", stream, "ping");
        uint32_t n = 0;
        while (n < 4) n += read_some("root", stream, buf + n, 4 - n);
        ok += memcmp(buf, "ping", 4) == 0;
    }
    printf("root: %d of %d round trips beside 2 spinning processes\n", ok, rounds);
    /* And a read timeout still wakes a reader while they spin. */
    lunatic_networking_set_read_timeout(stream, 20);
    uint64_t got;
    int32_t status = lunatic_networking_tcp_read(stream, (uint8_t *)buf, sizeof buf, &got);
    printf("root: idle read beside them: %s\n", status_text(status, got));
    lunatic_process_kill(spinners[0]);
    lunatic_process_kill(spinners[1]);
    lunatic_networking_drop_tcp_stream(stream);
}

/* ---- IPv6 ---------------------------------------------------------------------------------- */

LUNATIC_EXPORT("ipv6_client") void ipv6_client(int32_t port, int64_t parent) {
    (void)parent;
    uint8_t addr[16] = {0};
    addr[15] = 1;
    uint64_t stream;
    int32_t status = lunatic_networking_tcp_connect(LUNATIC_NET_ADDR_IPV6, addr, (uint32_t)port, 0,
                                                    0, LUNATIC_NO_TIMEOUT, &stream);
    if (status != LUNATIC_OK) die("client", "connect", status, stream);
    write_text("client", stream, "v6");
    lunatic_networking_drop_tcp_stream(stream);
}

LUNATIC_EXPORT("ipv6") void ipv6(void) {
    uint8_t addr[16] = {0};
    addr[15] = 1;
    uint64_t listener;
    int32_t status = lunatic_networking_tcp_bind(LUNATIC_NET_ADDR_IPV6, addr, 0, 0, 0, &listener);
    if (status != LUNATIC_OK) die("root", "bind [::1]:0", status, listener);
    uint64_t iter;
    lunatic_networking_tcp_local_addr(listener, &iter);
    print_address("root", "local", iter, 0);
    spawn_with("ipv6_client", lunatic_tcp_listener_port(listener), 0);
    uint64_t stream, peer;
    status = lunatic_networking_tcp_accept(listener, &stream, &peer);
    if (status != LUNATIC_OK) die("root", "accept", status, stream);
    print_address("root", "peer", peer, 0);
    char buf[4] = {0};
    uint32_t n = 0;
    while (n < 2) n += read_some("root", stream, buf + n, 2 - n);
    printf("root: read %s\n", buf);
}

/* ---- bad input: each traps the calling process ------------------------------------------- */

LUNATIC_EXPORT("bad_address_type") void bad_address_type(void) {
    uint8_t addr[16] = {0};
    uint64_t id;
    lunatic_networking_tcp_bind(5, addr, 0, 0, 0, &id);
    printf("root: NOT REACHED\n");
}

LUNATIC_EXPORT("address_out_of_bounds") void address_out_of_bounds(void) {
    uint64_t id;
    lunatic_networking_tcp_bind(LUNATIC_NET_ADDR_IPV4, (const uint8_t *)0xFFFFFFF0u, 0, 0, 0, &id);
    printf("root: NOT REACHED\n");
}

LUNATIC_EXPORT("buffer_out_of_bounds") void buffer_out_of_bounds(void) {
    uint16_t port;
    uint64_t listener = listen_local(&port);
    spawn_with("client_hello", port, 0);
    uint64_t stream = accept_one(listener);
    uint64_t got;
    lunatic_networking_tcp_read(stream, (uint8_t *)0xFFFFFF00u, 4096, &got);
    printf("root: NOT REACHED\n");
}

LUNATIC_EXPORT("unknown_stream") void unknown_stream(void) {
    uint8_t buf[4];
    uint64_t got;
    lunatic_networking_tcp_read(77, buf, sizeof buf, &got);
    printf("root: NOT REACHED\n");
}

LUNATIC_EXPORT("unknown_listener") void unknown_listener(void) {
    uint64_t stream, peer;
    lunatic_networking_tcp_accept(9, &stream, &peer);
    printf("root: NOT REACHED\n");
}

LUNATIC_EXPORT("use_after_push") void use_after_push(void) {
    uint16_t port;
    uint64_t listener = listen_local(&port);
    spawn_with("client_hello", port, 0);
    uint64_t stream = accept_one(listener);
    lunatic_message_create_data(LUNATIC_UNTAGGED, 0);
    lunatic_message_push_tcp_stream(stream);
    printf("root: pushed\n");
    lunatic_networking_clone_tcp_stream(stream); /* its ID went with the push */
    printf("root: NOT REACHED\n");
}

LUNATIC_EXPORT("take_twice") void take_twice(void) {
    uint16_t port;
    uint64_t listener = listen_local(&port);
    spawn_with("client_hello", port, 0);
    uint64_t stream = accept_one(listener);
    lunatic_message_create_data(LUNATIC_UNTAGGED, 0);
    lunatic_message_push_tcp_stream(stream);
    lunatic_message_send(lunatic_process_process_id());
    lunatic_message_receive_any(LUNATIC_NO_TIMEOUT);
    lunatic_message_take_tcp_stream(0);
    printf("root: took it once\n");
    lunatic_message_take_tcp_stream(0);
    printf("root: NOT REACHED\n");
}

int main(void) { return 0; }
