import assert from "node:assert/strict";
import { test } from "node:test";
import { eventually, Latch } from "../src/index.ts";

test("eventually - returns the first value once the condition holds", async () => {
  let calls = 0;
  const value = await eventually(() => {
    calls += 1;
    if (calls < 3) throw new Error("not yet");
    return calls;
  });
  assert.equal(value, 3);
});

test("eventually - a false result keeps waiting; the timeout reports the last reason", async () => {
  await assert.rejects(
    eventually(() => false, { timeoutMs: 50, message: "never true" }),
    /never true within 50 ms/,
  );
});

test("latch - opens after the counted arrivals and times out otherwise", async () => {
  const latch = new Latch(2);
  latch.countDown();
  await assert.rejects(latch.wait(30), /still waiting for 1/);
  latch.countDown();
  await latch.wait(30);
  assert.equal(latch.remaining, 0);
});
