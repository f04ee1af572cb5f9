/**
 * The runtime knows how many processes fit: a spawn past the memory-map budget fails at once
 * with an error naming the limit and how to raise it, and the spawner keeps running.
 */
import assert from "node:assert/strict";
import { Lunatic } from "../lunatic.ts";
import { runGuest } from "./helpers/run_guest.ts";

Deno.test("a spawn past vm.max_map_count fails with an error saying how to raise it", async () => {
  // Room for 6 processes of 4 maps each: the root and 5 children.
  const reports: string[] = [];
  const lunatic = new Lunatic({
    capacity: { maxMapCount: 24, mapReserve: 0 },
    failureReports: (report) => reports.push(report),
  });
  const result = await runGuest("capacity_spawn", { lunatic });
  assert.equal(result.exitCode, 0);
  // The root then kills its 5 children: three reports and one line for the other two.
  assert.deepEqual(reports, [
    "Process 2 failed, notifying: 0 links: killed",
    "Process 3 failed, notifying: 0 links: killed",
    "Process 4 failed, notifying: 0 links: killed",
    "... and 2 more processes failed the same way (killed)",
  ]);
  const [spawned, error] = result.stdout.split("\n");
  assert.equal(spawned, "spawned=5");
  assert.match(
    error,
    /^too many processes: 6 are alive and each needs up to 4 kernel memory maps, which vm\.max_map_count=24 does not allow; raise it \(as root: sysctl -w vm\.max_map_count=1048576\)$/,
  );
});

Deno.test("capacity is given back when processes end", async () => {
  const lunatic = new Lunatic({
    capacity: { maxMapCount: 24, mapReserve: 0 },
    failureReports: () => {}, // the root kills its children each run
  });
  for (let run = 0; run < 3; run++) {
    const result = await runGuest("capacity_spawn", { lunatic });
    assert.match(result.stdout, /^spawned=5\n/, `run ${run}`);
  }
});

Deno.test("runtimes sharing one OS process (run --parallel) each get their part", async () => {
  // 48 maps shared by 2 runtimes: 24 each, room for the root and 5 children, as above.
  const lunatic = new Lunatic({
    capacity: { maxMapCount: 48, mapReserve: 0, sharedBy: 2 },
    failureReports: () => {},
  });
  const result = await runGuest("capacity_spawn", { lunatic });
  const [spawned, error] = result.stdout.split("\n");
  assert.equal(spawned, "spawned=5");
  assert.match(
    error,
    /^too many processes: 6 are alive .* vm\.max_map_count=48 \(divided among 2 instances\) does not allow; raise it/,
  );
});
