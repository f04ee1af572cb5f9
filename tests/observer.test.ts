/**
 * The observer (`--observe`) during a ring of 1,000 processes (examples/ring.wasm): its JSON
 * API, and its page in headless Chromium (Debian's `chromium`) — the counts, the table, the
 * graph, the charts, a process's details on click, and kill from the page. Kill needs a
 * loopback client or the `--observe-token`.
 */
import assert from "node:assert/strict";
import { Browser } from "./helpers/chromium.ts";
import { CliProcess } from "./helpers/cli_process.ts";
import { examplePath } from "./helpers/run_guest.ts";

/** A ring that runs long enough to be looked at: 1,000 processes, a million rounds. */
async function observedRing(extra: string[] = []) {
  const run = new CliProcess([
    "run",
    "--observe",
    "127.0.0.1:0",
    ...extra,
    examplePath("ring"),
    "1000",
    "1000000",
  ]);
  const [, url] = await run.waitFor(/observer on (\S+)/, "stderr");
  // The observer starts before the module is loaded: wait for the ring to be spawned.
  for (let tries = 0; tries < 300; tries++) {
    const { count } = await (await fetch(new URL("/api/processes", url))).json();
    if (count === 1001) break;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return { run, url };
}

async function api(url: string, path: string, init?: RequestInit) {
  const response = await fetch(new URL(path, url), init);
  return { status: response.status, body: await response.json() };
}

Deno.test("observer: the API lists the ring's 1,001 processes, their links and the rates", async () => {
  const { run, url } = await observedRing();
  try {
    const { body } = await api(url, "/api/processes");
    assert.equal(body.count, 1001);
    const root = body.processes[0];
    assert.deepEqual(
      [root.environment, root.id, root.module, root.links],
      [1, 1, "ring.wasm", 1000],
    );
    for (const key of ["state", "mailbox", "memory", "fuel", "uptimeMs", "monitors"]) {
      assert.ok(key in root, key);
    }
    const node = await api(url, "/api/process/1/2");
    assert.deepEqual(node.body.linked, [{ id: 1, tag: "10" }]);
    assert.equal(node.body.config.canSpawnProcesses, true);
    const graph = (await api(url, "/api/graph")).body;
    assert.equal(graph.nodes.length, 1001);
    assert.equal(graph.edges.filter((edge: { kind: string }) => edge.kind === "link").length, 1000);
    assert.equal((await api(url, "/api/process/1/5000")).status, 404);
    assert.equal((await api(url, "/api/nope")).status, 404);
  } finally {
    await run.stop();
  }
});

Deno.test("observer: the page in headless Chromium shows the ring, a process on click, and kills it", async () => {
  const { run, url } = await observedRing();
  const browser = await Browser.launch();
  try {
    await browser.goto(url);
    await browser.waitFor("Number(document.body.dataset.refreshed) >= 2");
    assert.equal(
      await browser.evaluate("document.getElementById('count').textContent"),
      "1,001 processes",
    );
    assert.equal(await browser.evaluate("document.querySelectorAll('#processes tr').length"), 1001);
    assert.equal(await browser.evaluate("document.querySelectorAll('#graph circle').length"), 1001);
    assert.equal(
      await browser.evaluate("document.querySelectorAll('#graph line.link').length"),
      1000,
    );
    assert.equal(
      await browser.evaluate("document.getElementById('graph-summary').textContent"),
      "1001 processes, 1000 links, 0 monitors",
    );
    // The ring is busy: the message chart has points and a rate above zero.
    await browser.waitFor(
      "document.querySelector('#messages-chart polyline').getAttribute('points').split(' ').length >= 2",
    );
    assert.match(
      await browser.evaluate<string>("document.getElementById('messages-last').textContent"),
      /^now [\d,]+ messages\/s, peak [1-9][\d,]*$/,
    );
    assert.deepEqual(
      await browser.evaluate(
        "[...document.querySelector('#processes tr').children].map((c) => c.textContent).slice(0, 5)",
      ),
      ["1", "1", "ring.wasm", "v1", "waiting"],
    );

    // A click shows the process in detail.
    await browser.evaluate("document.querySelector('#processes tr[data-key=\"1/7\"]').click()");
    const details = await browser.waitFor<string>(
      "document.getElementById('details-body').textContent.includes('\"id\": 7') && document.getElementById('details-body').textContent",
    );
    assert.match(details, /"module": "ring.wasm"/);
    assert.match(details, /"linked": \[\s*\{\s*"id": 1,\s*"tag": "10"/);

    // Kill, confirmed: process 7 ends; being linked to the root, it takes the ring down.
    await browser.evaluate("window.confirm = () => true; document.getElementById('kill').click()");
    await browser.waitFor(
      "document.getElementById('details-body').textContent === 'process 7 killed'",
    );
    const status = await run.done;
    assert.equal(status.code, 134);
    assert.match(run.stderr, /the root process \(1\) failed: linked process 7 failed/);
  } finally {
    await browser.close();
    await run.stop();
  }
});

Deno.test("observer: a kill without the page's header (a cross-site form, a plain POST) is refused", async () => {
  const { run, url } = await observedRing();
  try {
    const plain = await api(url, "/api/process/1/9/kill", { method: "POST" });
    assert.equal(plain.status, 403);
    assert.match(plain.body.error, /x-observe-kill/);
    assert.equal((await api(url, "/api/process/1/9")).status, 200);
  } finally {
    await run.stop();
  }
});

Deno.test("observer: with --observe-token, a kill without the token is refused", async () => {
  const { run, url } = await observedRing(["--observe-token", "s3cret"]);
  try {
    const refused = await api(url, "/api/process/1/9/kill", { method: "POST" });
    assert.equal(refused.status, 403);
    assert.match(refused.body.error, /wrong or missing observe token/);
    assert.equal((await api(url, "/api/process/1/9")).status, 200);
    const killed = await api(url, "/api/process/1/9/kill", {
      method: "POST",
      headers: { "x-observe-token": "s3cret" },
    });
    assert.deepEqual(killed.body, { killed: true });
    assert.equal((await run.done).code, 134);
  } finally {
    await run.stop();
  }
});
