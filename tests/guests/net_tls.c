/*
 * net_tls.c: lunatic::networking's TLS (tests/networking_tls.test.ts). The certificates are in
 * the directory named by TLS_DIR (tests/fixtures/tls: a test CA, a server certificate it
 * signed for localhost and 127.0.0.1 with its PKCS#8 key, and another CA). Every scenario is
 * an export run as the root. Output lines are "<who>: <what>".
 */
#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lunatic.h"

__attribute__((constructor)) static void line_buffered_stdout(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
}

static const char *error_text(uint64_t id) {
    static char text[400];
    lunatic_error_take_string(id, text, sizeof text);
    return text;
}

/* The whole file TLS_DIR/name, NUL-terminated; its length at *len. */
static char *read_fixture(const char *name, uint32_t *len) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", getenv("TLS_DIR"), name);
    FILE *file = fopen(path, "rb");
    if (file == NULL) {
        printf("root: cannot open %s\n", path);
        exit(1);
    }
    fseek(file, 0, SEEK_END);
    long size = ftell(file);
    fseek(file, 0, SEEK_SET);
    char *data = malloc((size_t)size + 1);
    fread(data, 1, (size_t)size, file);
    fclose(file);
    data[size] = 0;
    *len = (uint32_t)size;
    return data;
}

static uint8_t LOCALHOST[4] = {127, 0, 0, 1};

static uint64_t tls_listen(uint16_t *port) {
    uint32_t cert_len, key_len;
    char *cert = read_fixture("server.pem", &cert_len);
    char *key = read_fixture("server.key", &key_len);
    uint64_t listener;
    int32_t status = lunatic_networking_tls_bind(LUNATIC_NET_ADDR_IPV4, LOCALHOST, 0, 0, 0,
                                                 &listener, cert, cert_len, key, key_len);
    if (status != LUNATIC_OK) {
        printf("root: tls_bind failed: %s\n", error_text(listener));
        exit(1);
    }
    uint64_t iter;
    lunatic_networking_tls_local_addr(listener, &iter);
    uint32_t type, flow, scope;
    uint8_t addr[16];
    lunatic_networking_resolve_next(iter, &type, addr, port, &flow, &scope);
    lunatic_networking_drop_dns_iterator(iter);
    return listener;
}

static void write_text(uint64_t stream, const char *text) {
    uint32_t iov[2] = {(uint32_t)(uintptr_t)text, (uint32_t)strlen(text)};
    uint64_t written;
    int32_t status = lunatic_networking_tls_write_vectored(stream, iov, 1, &written);
    if (status != LUNATIC_OK) {
        printf("tls: write failed: %s\n", error_text(written));
        exit(1);
    }
}

static uint32_t read_line(uint64_t stream, char *buf, uint32_t cap) {
    uint32_t used = 0;
    while (used < cap - 1) {
        uint64_t got;
        int32_t status = lunatic_networking_tls_read(stream, (uint8_t *)buf + used, cap - 1 - used, &got);
        if (status != LUNATIC_OK || got == 0) break;
        used += (uint32_t)got;
        if (memchr(buf, '\n', used) != NULL) break;
    }
    buf[used] = 0;
    return used;
}

/* Answers `count` connections, one after another: each line it reads, upper-cased. */
static void serve(uint64_t listener, int32_t count) {
    for (int32_t i = 0; i < count; i++) {
        uint64_t stream, peer;
        int32_t status = lunatic_networking_tls_accept(listener, &stream, &peer);
        if (status != LUNATIC_OK) {
            printf("server: accept: %s\n", error_text(stream));
            continue;
        }
        lunatic_networking_drop_dns_iterator(peer);
        char line[256];
        if (read_line(stream, line, sizeof line) > 0) {
            for (char *c = line; *c; c++) *c = (char)toupper((unsigned char)*c);
            write_text(stream, line);
            uint64_t error;
            lunatic_networking_tls_flush(stream, &error);
        }
        lunatic_networking_drop_tls_stream(stream);
    }
}

/* A TLS echo server for a client outside: prints its port, answers `count` connections. */
LUNATIC_EXPORT("tls_server") void tls_server(int32_t count) {
    uint16_t port;
    uint64_t listener = tls_listen(&port);
    printf("server: port %u\n", port);
    serve(listener, count);
    printf("server: done\n");
}

/* Connects to 127.0.0.1:port by `host`, trusting `ca` (a file; "" for the usual roots). */
static int32_t connect_with(const char *host, uint16_t port, const char *ca, uint64_t *stream) {
    uint32_t certs[2];
    uint32_t count = 0;
    if (ca[0] != 0) {
        uint32_t len;
        char *pem = read_fixture(ca, &len);
        /* lunatic-rs writes each entry as (len, ptr); lunatic.h documents (ptr, len): the
         * runtime reads either. This one is lunatic-rs's. */
        certs[0] = len;
        certs[1] = (uint32_t)(uintptr_t)pem;
        count = 1;
    }
    return lunatic_networking_tls_connect(host, (uint32_t)strlen(host), port, LUNATIC_NO_TIMEOUT,
                                          stream, certs, count);
}

LUNATIC_EXPORT("tls_client") void tls_client(int32_t port, int32_t which) {
    const char *ca = which == 0 ? "ca.pem" : which == 1 ? "" : "other_ca.pem";
    const char *label = which == 0 ? "the test CA" : which == 1 ? "the usual roots" : "another CA";
    uint64_t stream;
    int32_t status = connect_with("localhost", (uint16_t)port, ca, &stream);
    if (status != LUNATIC_OK) {
        printf("client: trusting %s: %d %s\n", label, status, error_text(stream));
        return;
    }
    lunatic_networking_set_tls_read_timeout(stream, 5000);
    printf("client: trusting %s: connected, read timeout %" PRIu64 "\n", label,
           lunatic_networking_get_tls_read_timeout(stream));
    write_text(stream, "hello over tls\n");
    char line[256];
    read_line(stream, line, sizeof line);
    printf("client: got %s", line);
    lunatic_networking_drop_tls_stream(stream);
}

static void await_death(uint64_t pid) {
    lunatic_process_monitor(pid);
    while (!(lunatic_message_receive_any(LUNATIC_NO_TIMEOUT) == LUNATIC_RECEIVE_PROCESS_DIED &&
             lunatic_message_get_process_id() == pid)) {
    }
}

/* Both sides here: clients trusting the test CA, the usual roots, and another CA. */
LUNATIC_EXPORT("tls_both_sides") void tls_both_sides(void) {
    uint16_t port;
    uint64_t listener = tls_listen(&port);
    for (int32_t which = 0; which < 3; which++) {
        uint8_t params[2 * LUNATIC_PARAM_SIZE];
        lunatic_param_i32(lunatic_param_i32(params, port), which);
        uint64_t child;
        lunatic_spawn_export(LUNATIC_NO_LINK, "tls_client", params, sizeof params, &child);
        serve(listener, 1);
        await_death(child);
    }
}

/* A TLS stream moved to another process: it writes there. */
LUNATIC_EXPORT("tls_writer") void tls_writer(void) {
    if (lunatic_message_receive_any(LUNATIC_NO_TIMEOUT) != LUNATIC_RECEIVE_DATA) exit(2);
    uint64_t stream = lunatic_message_take_tls_stream(0);
    write_text(stream, "from the writer\n");
    lunatic_networking_drop_tls_stream(stream);
}

LUNATIC_EXPORT("tls_moved") void tls_moved(int32_t port) {
    uint64_t stream;
    int32_t status = connect_with("127.0.0.1", (uint16_t)port, "ca.pem", &stream);
    if (status != LUNATIC_OK) {
        printf("root: connect: %s\n", error_text(stream));
        return;
    }
    uint64_t clone = lunatic_networking_clone_tls_stream(stream);
    uint64_t child;
    lunatic_spawn_export(LUNATIC_NO_LINK, "tls_writer", NULL, 0, &child);
    lunatic_message_create_data(LUNATIC_UNTAGGED, 0);
    lunatic_message_push_tls_stream(stream);
    lunatic_message_send(child);
    await_death(child);
    char line[256];
    read_line(clone, line, sizeof line);
    printf("root: got %s", line);
    lunatic_networking_drop_tls_stream(clone);
}

LUNATIC_EXPORT("tls_bad_certificate") void tls_bad_certificate(void) {
    uint32_t cert_len, ca_len, key_len;
    char *cert = read_fixture("server.pem", &cert_len);
    char *ca = read_fixture("ca.pem", &ca_len);
    char *key = read_fixture("server.key", &key_len);
    char *two = malloc(cert_len + ca_len + 1);
    memcpy(two, cert, cert_len);
    memcpy(two + cert_len, ca, ca_len + 1);
    uint64_t listener;
    lunatic_networking_tls_bind(LUNATIC_NET_ADDR_IPV4, LOCALHOST, 0, 0, 0, &listener, two,
                                cert_len + ca_len, key, key_len);
    printf("root: NOT REACHED\n");
}

LUNATIC_EXPORT("tls_key_not_pkcs8") void tls_key_not_pkcs8(void) {
    uint32_t cert_len;
    char *cert = read_fixture("server.pem", &cert_len);
    static const char key[] = "-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\n";
    uint64_t listener;
    lunatic_networking_tls_bind(LUNATIC_NET_ADDR_IPV4, LOCALHOST, 0, 0, 0, &listener, cert,
                                cert_len, key, sizeof key - 1);
    printf("root: NOT REACHED\n");
}

int main(void) { return 0; }
