/**
 * A cluster of OS processes on loopback: `lunatic control` and three `lunatic node`s, one
 * running tests/guests/cluster.c as its root. Remote spawn (the module fetched from control),
 * send, request/reply, lookups by tag, and the calls that fail at once: an unknown node, an
 * unknown module, a missing process, a node that is listed but gone.
 */
import assert from "node:assert/strict";
import { CliProcess } from "./helpers/cli_process.ts";
import { examplePath, guestPath } from "./helpers/run_guest.ts";

interface Cluster {
  controlUrl: string;
  nodes: CliProcess[];
  stop(): Promise<void>;
}

async function startCluster(workers: number): Promise<Cluster> {
  const state = await Deno.makeTempDir({ prefix: "cluster_" });
  const control = new CliProcess(["control", "--bind-socket", "127.0.0.1:0", "--state", state]);
  const [, controlUrl] = await control.waitFor(/control listening on (http:\/\/\S+)/);
  const nodes: CliProcess[] = [];
  for (let i = 0; i < workers; i++) {
    const node = new CliProcess(["node", controlUrl, "--tag", "role=worker"]);
    await node.waitFor(/listening on/);
    nodes.push(node);
  }
  return {
    controlUrl,
    nodes,
    async stop() {
      await Promise.all(nodes.map((node) => node.stop()));
      await control.stop();
      await Deno.remove(state, { recursive: true });
    },
  };
}

/** The root node's output lines that start with "root: ". */
function rootLines(stdout: string): string[] {
  return stdout.split("\n").filter((line) => line.startsWith("root: "));
}

Deno.test("cluster: spawn on every node, send, request/reply, lookup by tag, fail fast", async () => {
  const cluster = await startCluster(2);
  const root = new CliProcess(["node", cluster.controlUrl, "--wasm", guestPath("cluster")]);
  try {
    await root.waitFor(/root: done/);
    const lines = rootLines(root.stdout);
    // Nodes 1 and 2 are the workers, 3 the root's; the root's module is control's module 1.
    assert.deepEqual(lines, [
      "root: node 3, module 1, 3 nodes (count 3)",
      'root: send -> 0; answer: node 1 module 1 pid 1 got "hello 0"',
      'root: send -> 0; answer: node 2 module 1 pid 1 got "hello 1"',
      // On its own node the worker is the root's neighbour in environment 1.
      'root: send -> 0; answer: node 3 module 1 pid 2 got "hello 2"',
      "root: request to node 1 -> 0 pong from node 1",
      "root: request to node 2 -> 0 pong from node 2",
      "root: request to node 3 -> 0 pong from node 3",
      "root: lookup role=worker -> 0, 2 nodes, copied 2: 1 2",
      "root: copy again -> -1",
      "root: spawn on node 999 module 1 -> 1: node 999 not found",
      "root: spawn on node 1 module 4242 -> 2: module 4242 not found",
      "root: send to a missing process -> 1",
      "root: send to node 999 -> 2",
      "root: done",
    ]);
  } finally {
    await root.stop();
    await cluster.stop();
  }
});

Deno.test("cluster: a node that is listed but gone fails the spawn with an error naming it, at once", async () => {
  const cluster = await startCluster(2);
  // Killed without telling control: it stays listed until its silence times out.
  await cluster.nodes[0].stop("SIGKILL");
  const started = performance.now();
  const root = new CliProcess(["node", cluster.controlUrl, "--wasm", guestPath("cluster")]);
  try {
    await root.waitFor(/root: done/);
    const elapsed = performance.now() - started;
    const lines = rootLines(root.stdout);
    assert.equal(lines[0], "root: node 3, module 1, 3 nodes (count 3)");
    assert.match(
      lines[1],
      /^root: spawn on node 1 module 1 -> 9027: node 1: node [0-9a-f-]{36} at 127\.0\.0\.1:\d+ cannot be reached: .*ECONNREFUSED/,
    );
    // The rest of the cluster keeps working.
    assert.equal(lines[2], 'root: send -> 0; answer: node 2 module 1 pid 1 got "hello 1"');
    assert.ok(lines.includes("root: request to node 2 -> 0 pong from node 2"));
    // Not a hang: lunatic would retry forever. (A generous bound; the connect timeout is 1 s.)
    assert.ok(elapsed < 20_000, `took ${elapsed} ms`);
  } finally {
    await root.stop();
    await cluster.stop();
  }
});

Deno.test("cluster: links and monitors across nodes, and a lost node's links die", async () => {
  const cluster = await startCluster(2);
  const root = new CliProcess(["node", cluster.controlUrl, "--wasm", guestPath("cluster_links")]);
  try {
    await root.waitFor(/root: waiting for node loss/);
    // Killed without a word to anyone: its connection drops and it cannot be reached again.
    await cluster.nodes[1].stop("SIGKILL");
    await root.waitFor(/root: done/);
    const lines = rootLines(root.stdout);
    const helperPid = lines.find((line) => line.startsWith("root: (helper pid was"))!
      .match(/\d+/)![0];
    const workerPid = lines.find((line) => line.startsWith("root: (worker pid was"))!
      .match(/\d+/)![0];
    assert.deepEqual(lines, [
      "root: exists -> 1",
      "root: link -> 0",
      "root: LinkDied, tag 42",
      "root: exists after -> 0",
      "root: exists on node 999 -> -1",
      "root: monitor -> 0",
      `root: ProcessDied, pid ${workerPid}`,
      `root: (worker pid was ${workerPid})`,
      "root: link to a missing process -> 1",
      "root: LinkDied, tag 44",
      "root: link on node 999 -> 2",
      "root: helper linked -> 0",
      `root: ProcessDied, pid ${helperPid}`,
      `root: (helper pid was ${helperPid})`,
      "root: link -> 0",
      "root: waiting for node loss",
      "root: LinkDied, tag 43",
      "root: done",
    ]);
    // The helper was killed by its link, and the node's log says which process it was.
    assert.match(root.stderr, /linked process \d+ on node 1 failed/);
  } finally {
    await root.stop();
    await cluster.stop();
  }
});

Deno.test("cluster: a remote spawn cannot see more of the receiving node than that node allows", async () => {
  const cluster = await startCluster(1);
  const outside = await Deno.realPath(await Deno.makeTempDir({ prefix: "cluster_outside_" }));
  const root = new CliProcess([
    "node",
    cluster.controlUrl,
    "--dir",
    outside,
    "--env",
    `OUTSIDE_DIR=${outside}`,
    "--wasm",
    guestPath("cluster"),
  ]);
  try {
    await root.waitFor(/root: done/);
    const refusal = rootLines(root.stdout).find((line) => line.includes("spawn preopening"));
    assert.equal(
      refusal,
      `root: spawn preopening ${outside} -> 9027: spawn on node 1 failed: permission denied: ` +
        `cannot preopen "${outside}", which is outside this node's directories`,
    );
  } finally {
    await root.stop();
    await cluster.stop();
    await Deno.remove(outside, { recursive: true });
  }
});

Deno.test("examples/cluster_hello.wasm answers from every node, as the README shows", async () => {
  const cluster = await startCluster(2);
  const root = new CliProcess(["node", cluster.controlUrl, "--wasm", examplePath("cluster_hello")]);
  try {
    await root.waitFor(/cluster_hello: done/);
    assert.deepEqual(root.stdout.split("\n").filter((line) => line.startsWith("cluster_hello:")), [
      "cluster_hello: node 3 sees 3 nodes",
      "cluster_hello: node 1 answers: hello from process 1 on node 1",
      "cluster_hello: node 2 answers: hello from process 1 on node 2",
      "cluster_hello: node 3 answers: hello from process 2 on node 3",
      "cluster_hello: done",
    ]);
    for (const node of cluster.nodes) {
      await node.waitFor(/greeter: asked by process 1 on node 3/);
    }
  } finally {
    await root.stop();
    await cluster.stop();
  }
});
