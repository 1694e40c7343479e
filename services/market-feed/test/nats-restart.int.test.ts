import assert from "node:assert/strict";
import { after, test } from "node:test";
import { eventually, startNats, uniqueNamespace } from "@upline/testkit";
import { startSim } from "@upline/upbit-sim";
import {
  compare,
  connectTest,
  feedConfig,
  prepareStreams,
  simTrades,
  startFeed,
  streamTrades,
} from "./helpers.ts";

const MARKETS = ["KRW-BTC", "KRW-ETH"];
const cleanups: (() => Promise<unknown>)[] = [];

after(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => {});
});

test("market-feed - NATS stopped and restarted mid-run: the feed buffers within bounds, records the gap, backfills, and nothing is missing or doubled", async () => {
  const nats = await startNats({ dedicated: true });
  cleanups.push(() => nats.stop());
  const sim = await startSim({ port: 0, seed: 5, markets: MARKETS, tradesPerTick: 2 });
  cleanups.push(() => sim.stop());
  const nc = await connectTest(nats.url);
  cleanups.push(() => nc.close());
  const ns = uniqueNamespace("mfr");
  const subjects = await prepareStreams(nc, ns);
  const config = feedConfig(nats.url, ns, sim, {
    FEED_BUFFER_MAX: "200",
    FEED_MAX_IN_FLIGHT: "64",
    FEED_PUBLISH_TIMEOUT_MS: "1000",
  });
  const feed = startFeed(config, nc, subjects);
  cleanups.push(() => feed.stop());
  await feed.start();
  await eventually(() => feed.ready(), { message: "feed ready" });
  sim.admin.tick(20);
  await eventually(() => feed.stats().published > 40, { message: "publishing" });

  await nats.pause();
  // Far more than the buffer holds: the feed must drop, not grow, and remember the gap.
  sim.admin.tick(300);
  await eventually(() => feed.stats().dropped > 0, {
    timeoutMs: 30_000,
    message: "buffer bounded",
  });
  // Publishes in flight when NATS went away come back into the buffer: the
  // bound covers both.
  const held = feed.stats().buffered + feed.stats().inFlight;
  assert.ok(held <= 200, `held ${held}`);
  await nats.resume();
  sim.admin.tick(20);

  const expected = simTrades(sim, MARKETS);
  await eventually(
    async () => {
      const r = compare(expected, await streamTrades(nc, subjects));
      assert.deepEqual(r, { missing: [], doubled: [], unexpected: [] });
    },
    { timeoutMs: 30_000, intervalMs: 250, message: "every trade exactly once after the restart" },
  );
  const stats = feed.stats();
  assert.ok(stats.gaps >= 1, "the gap was recorded");
  assert.ok(stats.backfilled > 0, "dropped trades came back through REST backfill");
  await eventually(() => feed.ready(), { message: "ready again" });
});
