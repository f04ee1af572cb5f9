/*
 * certificates.c: lunatic::distributed's certificate calls (tests/distributed_certificates.test.ts).
 * test_root_cert gives a CA; default_server_certificates a control certificate signed by it;
 * sign_node signs the request in argv[1]'s file, and returns 0 for one that is not a request.
 * Results come back in memory this module's `lunatic_alloc` export allocates. Prints each PEM
 * between "<name>:" and "end <name>" lines.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lunatic.h"

LUNATIC_IMPORT("lunatic::distributed", "test_root_cert") uint8_t *test_root_cert(uint32_t *len);
LUNATIC_IMPORT("lunatic::distributed", "default_server_certificates")
uint8_t *default_server_certificates(const char *cert, uint32_t cert_len, const char *key,
                                     uint32_t key_len, uint32_t *len);
LUNATIC_IMPORT("lunatic::distributed", "sign_node")
uint8_t *sign_node(const char *cert, uint32_t cert_len, const char *key, uint32_t key_len,
                   const char *csr, uint32_t csr_len, uint32_t *len);

LUNATIC_EXPORT("lunatic_alloc") void *lunatic_alloc(uint32_t len) { return malloc(len); }

/* Reads a bincode String at *at: u64 length, bytes. Returns a fresh C string. */
static char *read_string(const uint8_t **at) {
    uint64_t len;
    memcpy(&len, *at, 8);
    char *text = malloc(len + 1);
    memcpy(text, *at + 8, len);
    text[len] = 0;
    *at += 8 + len;
    return text;
}

static void show(const char *name, const char *pem) { printf("%s:\n%send %s\n", name, pem, name); }

int main(int argc, char **argv) {
    uint32_t len = 0;
    const uint8_t *at = test_root_cert(&len);
    const uint8_t *start = at;
    char *ca_cert = read_string(&at);
    char *ca_key = read_string(&at);
    printf("test_root_cert: %u bytes, read %u\n", len, (uint32_t)(at - start));
    show("ca", ca_cert);

    at = default_server_certificates(ca_cert, strlen(ca_cert), ca_key, strlen(ca_key), &len);
    char *server_cert = read_string(&at);
    char *server_key = read_string(&at);
    show("server", server_cert);
    printf("server key is a key: %d\n", strstr(server_key, "PRIVATE KEY") != NULL);

    char csr[4096] = "";
    if (argc > 1) {
        FILE *file = fopen(argv[1], "r");
        size_t n = file ? fread(csr, 1, sizeof csr - 1, file) : 0;
        csr[n] = 0;
    }
    at = sign_node(ca_cert, strlen(ca_cert), ca_key, strlen(ca_key), csr, strlen(csr), &len);
    char *node_cert = read_string(&at);
    show("node", node_cert);
    const char *bad = "not a certificate request";
    printf("sign_node of garbage -> %p\n",
           (void *)sign_node(ca_cert, strlen(ca_cert), ca_key, strlen(ca_key), bad, strlen(bad), &len));
    printf("bad CA:\n");
    fflush(stdout);
    default_server_certificates("nope", 4, ca_key, strlen(ca_key), &len);
    printf("NOT REACHED\n");
    return 0;
}
