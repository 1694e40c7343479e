import assert from "node:assert/strict";
import { test } from "node:test";
import {
  backoffDelay,
  createRateWindow,
  parseRemainingReq,
  planSubscriptions,
} from "../src/index.ts";

test("backoff - full jitter stays under an exponentially growing ceiling, capped", () => {
  const top = () => 0.999999;
  assert.equal(backoffDelay(0, { initialMs: 100, maxMs: 1000 }, top), 99);
  assert.equal(backoffDelay(2, { initialMs: 100, maxMs: 1000 }, top), 399);
  assert.equal(backoffDelay(10, { initialMs: 100, maxMs: 1000 }, top), 999);
  assert.equal(
    backoffDelay(5, { initialMs: 100, maxMs: 1000 }, () => 0),
    0,
  );
});

test("rate window - a sixth connect inside one second waits for the window to pass", () => {
  let now = 10_000;
  const w = createRateWindow(5, 1000, () => now);
  const waits = Array.from({ length: 7 }, () => w.reserve());
  assert.deepEqual(waits, [0, 0, 0, 0, 0, 1000, 1000]);
  now += 1000;
  // The first five left the window; two slots at 11 000 remain, three more fit.
  assert.deepEqual(
    Array.from({ length: 4 }, () => w.reserve()),
    [0, 0, 0, 1000],
  );
});

test("subscription plan - markets are split over connections by code count and message size", () => {
  const markets = Array.from({ length: 25 }, (_, i) => `KRW-C${i}`);
  const plan = planSubscriptions(markets, {
    channels: ["trade", "ticker", "orderbook"],
    maxCodesPerConnection: 10,
    orderbookDepth: 15,
    ticket: () => "t",
  });
  assert.deepEqual(
    plan.shards.map((s) => s.length),
    [10, 10, 5],
  );
  const first = JSON.parse(plan.messages[0] as string);
  assert.deepEqual(first[0], { ticket: "t" });
  assert.equal(first[1].type, "trade");
  assert.equal(first[3].codes[0], "KRW-C0.15");
  assert.deepEqual(first.at(-1), { format: "SIMPLE" });
  const small = planSubscriptions(markets, { channels: ["trade"], maxMessageBytes: 200 });
  for (const m of small.messages) assert.ok(Buffer.byteLength(m) <= 200, m);
  assert.deepEqual(small.shards.flat(), markets);
});

test("Remaining-Req - group names with hyphens and the seconds budget are read", () => {
  assert.deepEqual(parseRemainingReq("group=order-test; min=1800; sec=0"), {
    group: "order-test",
    sec: 0,
  });
  assert.equal(parseRemainingReq("nonsense"), undefined);
  assert.equal(parseRemainingReq(undefined), undefined);
});
