import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { createQuotationClient, type QuotationClient } from "@upline/upbit";
import { type Sim, startSim } from "@upline/upbit-sim";

let sim: Sim;
let q: QuotationClient;

before(async () => {
  sim = await startSim({
    port: 0,
    seed: 3,
    markets: ["KRW-BTC", "KRW-ETH", "BTC-ETH"],
    tradesPerTick: 3,
  });
  q = createQuotationClient({ baseUrl: sim.restUrl });
});

after(async () => {
  await q.close();
  await sim.stop();
});

test("quotation - lists markets from market/all", async () => {
  const markets = await q.markets();
  assert.deepEqual(markets.map((m) => m.market).sort(), ["BTC-ETH", "KRW-BTC", "KRW-ETH"]);
});

test("quotation - pages trades/ticks with the cursor until the requested time, without losing or repeating one", async () => {
  sim.admin.tick(400); // 1 200 trades: three pages
  const log = sim.admin.trades("KRW-BTC");
  const since = log[0]?.timestamp ?? 0;
  const r = await q.tradesSince("KRW-BTC", since);
  assert.equal(r.complete, true);
  const ids = r.trades.map((t) => t.sequential_id);
  assert.equal(new Set(ids).size, ids.length, "no repeats");
  assert.deepEqual(new Set(ids), new Set(log.map((t) => String(t.sequentialId))));
  assert.ok(q.stats().requests >= 3);
});

test("quotation - order books come back as normalized full books", async () => {
  const [book] = await q.orderbooks(["KRW-ETH"], 5);
  assert.equal(book?.market, "KRW-ETH");
  assert.equal(book?.units.length, 5);
});

test("quotation - a 429 holds the group and retries; a storm ends in UPBIT_QUOTATION_RATE_LIMITED", async () => {
  sim.admin.setFaults({ rateLimitStorm: true });
  try {
    const storm = createQuotationClient({ baseUrl: sim.restUrl, maxRetries: 1 });
    await assert.rejects(storm.markets(), { code: "UPBIT_QUOTATION_RATE_LIMITED" });
    assert.equal(storm.stats().rateLimited, 2);
    await storm.close();
  } finally {
    sim.admin.clearFaults();
  }
  const before429 = sim.admin.counters().sent429;
  // 25 calls against a 10/s group: the client meters itself instead of collecting 429s.
  await Promise.all(Array.from({ length: 25 }, () => q.trades("KRW-BTC", { count: 1 })));
  assert.equal(sim.admin.counters().sent429, before429);
});

test("quotation - an unknown market is refused as UPBIT_QUOTATION_REJECTED", async () => {
  await assert.rejects(q.trades("KRW-NOPE"), { code: "UPBIT_QUOTATION_REJECTED" });
});
