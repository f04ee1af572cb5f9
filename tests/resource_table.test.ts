import assert from "node:assert/strict";
import { ResourceTable } from "../runtime/resources.ts";

Deno.test("ResourceTable: an ID taken or cleared right after a lookup is unknown from then on", () => {
  const table = new ResourceTable<string>();
  const first = table.add("first");
  const second = table.add("second");
  assert.equal(table.get(BigInt(first)), "first");
  assert.equal(table.get(first), "first"); // the remembered entry
  assert.equal(table.take(first), "first");
  assert.equal(table.get(first), undefined);
  assert.equal(table.get(BigInt(second)), "second");
  table.clear();
  assert.equal(table.get(second), undefined);
  assert.equal(table.size, 0);
});

Deno.test("ResourceTable: IDs count up and are never reused; IDs past 2^53 name nothing", () => {
  const table = new ResourceTable<number>();
  assert.equal(table.add(10), 0);
  assert.equal(table.add(11), 1);
  table.take(1n);
  assert.equal(table.add(12), 2);
  assert.equal(table.get(1n), undefined);
  assert.equal(table.get(2n), 12);
  assert.equal(table.get(2n ** 64n - 1n), undefined);
  assert.equal(table.get(-1), undefined);
});
