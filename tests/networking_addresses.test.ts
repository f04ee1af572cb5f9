import assert from "node:assert/strict";
import { fromHostPort, parseIp } from "../host/networking/addresses.ts";

Deno.test("parseIp: dotted-quad IPv4 takes four parts of 0-255 without leading zeros", () => {
  assert.deepEqual(parseIp("127.0.0.1")?.octets, new Uint8Array([127, 0, 0, 1]));
  assert.deepEqual(parseIp("0.0.0.0")?.octets, new Uint8Array([0, 0, 0, 0]));
  assert.deepEqual(parseIp("255.255.255.255")?.octets, new Uint8Array([255, 255, 255, 255]));
  for (
    const bad of [
      "256.1.1.1",
      "01.2.3.4",
      "0.00.1.1",
      "1000.1.1.1",
      "1.2.3",
      "1.2.3.4.5",
      "1..2.3",
      "1.2.3.",
      ".1.2.3",
      "a.b.c.d",
      "1.2.3.4 ",
      "",
    ]
  ) {
    assert.equal(parseIp(bad), null, bad);
  }
});

Deno.test("parseIp: IPv6 with an embedded IPv4 and a numeric scope", () => {
  const mapped = parseIp("::ffff:10.0.0.1");
  assert.equal(mapped?.family, 6);
  assert.deepEqual(
    mapped?.octets,
    new Uint8Array([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 255, 255, 10, 0, 0, 1]),
  );
  assert.equal(parseIp("fe80::1%3")?.scopeId, 3);
  assert.equal(parseIp("::ffff:10.0.0.256"), null);
});

Deno.test("fromHostPort: a peer address as Deno reports it, an interface-name zone as scope 0", () => {
  const v4 = fromHostPort("127.0.0.1", 8080);
  assert.deepEqual([v4.family, [...v4.octets], v4.port, v4.scopeId], [4, [127, 0, 0, 1], 8080, 0]);
  const v6 = fromHostPort("[fe80::1%eth0]", 443);
  assert.deepEqual([v6.family, v6.port, v6.scopeId], [6, 443, 0]);
  assert.throws(() => fromHostPort("localhost", 1), /not an IP address: localhost/);
});
