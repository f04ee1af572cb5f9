/**
 * `--prometheus`: the guests' lunatic::metrics (a C port of lunatic-rs's metrics example) and
 * the runtime's own metrics in the Prometheus text format, names sanitized as lunatic's
 * exporter does; the registry's rendering on its own; the flags' usage errors.
 */
import assert from "node:assert/strict";
import { MetricsRegistry, sanitizeMetricName } from "../runtime/metrics.ts";
import { reasonClass } from "../runtime/runtime_stats.ts";
import { CliProcess } from "./helpers/cli_process.ts";
import { guestPath, runCli } from "./helpers/run_guest.ts";

Deno.test("--prometheus-http serves the guest's counter, gauge and histogram and the runtime's metrics", async () => {
  const run = new CliProcess([
    "run",
    "--prometheus",
    "--prometheus-http",
    "127.0.0.1:0",
    guestPath("metrics_example"),
  ]);
  try {
    const [, url] = await run.waitFor(/prometheus metrics on (\S+)/, "stderr");
    await run.waitFor(/ready/);
    const response = await fetch(url);
    assert.equal(response.status, 200);
    assert.match(response.headers.get("content-type") ?? "", /^text\/plain; version=0\.0\.4/);
    const text = await response.text();
    const line = (pattern: string) => text.split("\n").find((l) => l.startsWith(pattern));
    assert.equal(
      line("# TYPE lunatic::metrics_example::counter"),
      "# TYPE lunatic::metrics_example::counter counter",
    );
    assert.equal(
      line("lunatic::metrics_example::counter{"),
      'lunatic::metrics_example::counter{node_id="0"} 142',
    );
    // 25 up, 25 down, twice; then 2.5 up.
    assert.equal(
      line("lunatic::metrics_example::gauge{"),
      'lunatic::metrics_example::gauge{node_id="0"} 2.5',
    );
    assert.equal(
      line("lunatic::metrics_example::set{"),
      'lunatic::metrics_example::set{node_id="0"} -1.5',
    );
    assert.equal(
      line("# TYPE lunatic::metrics_example::histogram"),
      "# TYPE lunatic::metrics_example::histogram summary",
    );
    assert.equal(
      line('lunatic::metrics_example::histogram{node_id="0",quantile="0.5"}'),
      'lunatic::metrics_example::histogram{node_id="0",quantile="0.5"} 24',
    );
    assert.equal(
      line('lunatic::metrics_example::histogram{node_id="0",quantile="1"}'),
      'lunatic::metrics_example::histogram{node_id="0",quantile="1"} 49',
    );
    assert.equal(
      line("lunatic::metrics_example::histogram_sum"),
      'lunatic::metrics_example::histogram_sum{node_id="0"} 2450',
    );
    assert.equal(
      line("lunatic::metrics_example::histogram_count"),
      'lunatic::metrics_example::histogram_count{node_id="0"} 100',
    );
    // The runtime's own: one process alive and spawned in environment 1, its memory.
    assert.equal(
      line("lunatic_process_alive{"),
      'lunatic_process_alive{node_id="0",environment_id="1"} 1',
    );
    assert.equal(
      line("lunatic_process_spawned{"),
      'lunatic_process_spawned{node_id="0",environment_id="1"} 1',
    );
    assert.equal(
      line("lunatic_process_environment_count{"),
      'lunatic_process_environment_count{node_id="0"} 1',
    );
    assert.match(
      line("lunatic_process_memory_bytes{") ?? "",
      /^lunatic_process_memory_bytes\{node_id="0"\} [1-9]\d+$/,
    );
    assert.match(
      line("lunatic_process_fuel_used{") ?? "",
      /^lunatic_process_fuel_used\{node_id="0"\} \d+$/,
    );
    assert.ok(line("lunatic_process_messages_send{"));
    assert.equal((await fetch(url.replace("/metrics", "/nope"))).status, 404);
  } finally {
    await run.stop();
  }
});

Deno.test("metrics: names as lunatic's exporter sanitizes them, labels escaped, failures by reason class, series keyed exactly", () => {
  assert.equal(
    sanitizeMetricName("lunatic::metrics_example::counter"),
    "lunatic::metrics_example::counter",
  );
  assert.equal(sanitizeMetricName("lunatic.process.alive"), "lunatic_process_alive");
  assert.equal(sanitizeMetricName("my app/requests"), "my_app_requests");
  assert.equal(
    reasonClass("linked process 12 failed\nwasm backtrace: ..."),
    "linked process N failed",
  );
  assert.equal(sanitizeMetricName("9lives-and-more"), "_lives_and_more");
  const registry = new MetricsRegistry();
  registry.increment("a.b", 2, { reason: 'say "hi"\nnow' });
  registry.set("a.b", 5); // a name keeps the kind it was first used as
  assert.equal(registry.render(), '# TYPE a_b counter\na_b{reason="say \\"hi\\"\\nnow"} 2\n');

  // Label sets that would read alike joined as text stay separate series; `:` is not allowed
  // in a label name (only in metric names).
  const series = new MetricsRegistry();
  series.set("g", 1, { a: "x,b=y" });
  series.set("g", 2, { a: "x", b: "y" });
  series.set("g", 3, { "ns:key": "v" });
  assert.equal(
    series.render(),
    '# TYPE g gauge\ng{a="x,b=y"} 1\ng{a="x",b="y"} 2\ng{ns_key="v"} 3\n',
  );
});

Deno.test("--prometheus-http without --prometheus, or with a bad address, is a usage error", async () => {
  const alone = await runCli([
    "run",
    "--prometheus-http",
    "127.0.0.1:1",
    guestPath("metrics_example"),
  ]);
  assert.equal(alone.code, 2);
  assert.match(alone.stderr, /--prometheus-http needs --prometheus/);
  const bad = await runCli([
    "run",
    "--prometheus",
    "--prometheus-http",
    "nowhere",
    guestPath("metrics_example"),
  ]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--prometheus-http takes IP:PORT \(was nowhere\)/);
});
