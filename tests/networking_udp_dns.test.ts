/**
 * UDP (spec §1.12) and DNS (spec §1.9): send_to/receive_from with the sender's address,
 * connect/send/receive, peer_addr before and after connecting, errors with the OS's text,
 * datagrams cut to the buffer, clones, TTL and broadcast, a socket moved in a message;
 * `resolve` of `"host:port"` strings as tokio's `lookup_host` takes them (IP literals, names
 * through the system resolver, errors for a missing port or a name that does not resolve);
 * bad input confined to the caller.
 *
 * Guest: tests/guests/net_udp.c.
 */
import assert from "node:assert/strict";
import { outputLines, reasonOf, runRecorded } from "./helpers/run_guest.ts";

function scenario(entry: string) {
  return runRecorded("net_udp", { entry });
}

Deno.test("UDP: send_to, receive_from, connect, send, receive, peer_addr, clone, TTL, broadcast", async () => {
  const { stdout, outcome } = await scenario("udp");
  assert.deepEqual(outcome, { kind: "normal" });
  assert.deepEqual(outputLines(stdout), [
    "root: ports distinct",
    "root: received P2NG (4 bytes) from the sender's port: yes",
    "root: peer_addr unconnected: 1 Transport endpoint is not connected (os error 107)",
    "root: connect 0, result slot 0",
    "root: peer_addr connected: port matches",
    "root: received P1NG",
    "root: send_to while connected: 1 Transport endpoint is already connected (os error 106)",
    "root: a 10-byte datagram into 4 bytes: 4 bytes, 0123",
    "root: the clone received via clone; same port: yes",
    "root: ttl 64",
    "root: ttl 42",
    "root: broadcast 0",
    "root: broadcast 1",
    "root: broadcast 0",
  ]);
});

Deno.test("UDP: a socket moved to another process in a message answers there", async () => {
  const { stdout, outcome } = await scenario("udp_in_message");
  assert.deepEqual(outcome, { kind: "normal" });
  assert.equal(stdout, "root: answer\n");
});

Deno.test("DNS: literals, names through the system resolver, and the errors of lookup_host", async () => {
  const { stdout, outcome } = await scenario("dns");
  assert.deepEqual(outcome, { kind: "normal" });
  const lines = outputLines(stdout);
  assert.deepEqual(lines.slice(0, 4), [
    "dns: 127.0.0.1:80 -> 4 127.0.0.1 port 80",
    "dns: 127.0.0.1:80: 1 addresses",
    "dns: [::1]:8080 -> 6 0000::0001 port 8080 flow 0 scope 0",
    "dns: [::1]:8080: 1 addresses",
  ]);
  // `localhost` comes from /etc/hosts (getaddrinfo), which Deno.resolveDns would not read.
  const localhost = lines.filter((l) => l.startsWith("dns: localhost:443 -> "));
  assert.ok(
    localhost.some((l) => l === "dns: localhost:443 -> 4 127.0.0.1 port 443") ||
      localhost.some((l) => l.startsWith("dns: localhost:443 -> 6 0000::0001 port 443")),
    lines.join("\n"),
  );
  assert.deepEqual(lines.slice(-3), [
    "dns: localhost -> 1 invalid socket address",
    "dns: 127.0.0.1:99999 -> 1 invalid socket address",
    "dns: no-such-host.invalid:80 -> 1 failed to lookup address information: Name or service not known",
  ]);
});

Deno.test("UDP and DNS bad input traps only the caller, naming the problem", async () => {
  const cases: [string, string][] = [
    ["udp_bad_ttl", "set_udp_socket_ttl: Invalid argument (os error 22)"],
    ["udp_unknown", "unknown udp socket id 5"],
    ["dns_unknown_iterator", "unknown dns iterator id 3"],
    ["dns_bad_utf8", "the name to resolve is not valid UTF-8"],
  ];
  for (const [entry, reason] of cases) {
    const { outcome, stdout } = await scenario(entry);
    assert.equal(reasonOf(outcome), reason, entry);
    assert.equal(stdout, "", entry);
  }
});
