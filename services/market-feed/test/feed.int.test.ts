import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import type { NatsConnection } from "@nats-io/transport-node";
import { FeedHealth, type Subjects, subscribe } from "@upline/shared";
import { eventually, startNats, uniqueNamespace } from "@upline/testkit";
import { type Sim, startSim } from "@upline/upbit-sim";
import { WebSocketServer } from "ws";
import type { MarketFeed } from "../src/index.ts";
import {
  compare,
  connectTest,
  feedConfig,
  prepareStreams,
  quietLogger,
  simTrades,
  startFeed,
  streamTrades,
} from "./helpers.ts";

const MARKETS = ["KRW-BTC", "KRW-ETH"];
let nc: NatsConnection;
let natsUrl: string;
const cleanups: (() => Promise<unknown>)[] = [];

before(async () => {
  const nats = await startNats();
  natsUrl = nats.url;
  nc = await connectTest(natsUrl);
});

after(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => {});
  await nc.drain();
});

async function setup(): Promise<{ sim: Sim; subjects: Subjects; ns: string }> {
  const sim = await startSim({ port: 0, seed: 11, markets: MARKETS, tradesPerTick: 2 });
  cleanups.push(() => sim.stop());
  const ns = uniqueNamespace("mf");
  const subjects = await prepareStreams(nc, ns);
  return { sim, subjects, ns };
}

function run(feed: MarketFeed): MarketFeed {
  cleanups.push(() => feed.stop());
  return feed;
}

async function expectExactlyOnce(sim: Sim, subjects: Subjects): Promise<void> {
  const expected = simTrades(sim, MARKETS);
  assert.ok(expected.size > 50, `the simulator produced only ${expected.size} trades`);
  await eventually(
    async () => {
      const r = compare(expected, await streamTrades(nc, subjects));
      assert.deepEqual(r, { missing: [], doubled: [], unexpected: [] });
    },
    { timeoutMs: 20_000, intervalMs: 200, message: "stream MD holds every trade exactly once" },
  );
}

test("market-feed - every simulated trade is on stream MD exactly once through disconnects, stalls, duplicated and reordered frames", async () => {
  const { sim, subjects, ns } = await setup();
  const feed = run(startFeed(feedConfig(natsUrl, ns, sim), nc, subjects));
  const health: FeedHealth[] = [];
  const sub = subscribe(nc, {
    subject: subjects.md.healthAll,
    schema: FeedHealth,
    logger: quietLogger,
    handler: (h) => {
      health.push(h);
    },
  });
  cleanups.push(() => sub.stop());
  await feed.start();
  await eventually(() => feed.ready(), { message: "feed ready" });

  sim.admin.tick(20);
  sim.admin.setFaults({ wsDuplicate: true });
  sim.admin.tick(20);
  // Let the feed read the duplicated frames before the disconnect below can cut them off.
  await eventually(() => feed.stats().collapsed > 0, { message: "duplicated frames collapsed" });
  sim.admin.setFaults({ wsDuplicate: false, wsReorder: true });
  sim.admin.tick(21);
  // A reordered stream holds one frame back; a disconnect (and backfill) covers it.
  sim.admin.disconnectWebSockets();
  sim.admin.clearFaults();
  sim.admin.tick(20);
  await eventually(() => feed.health().every((h) => h.state === "fresh"), {
    message: "reconnected",
  });
  const reconnectsBefore = feed.stats().reconnects;
  sim.admin.setFaults({ wsStall: true });
  sim.admin.tick(20);
  await eventually(() => feed.stats().reconnects > reconnectsBefore, {
    timeoutMs: 10_000,
    message: "stall detected",
  });
  sim.admin.tick(10);
  sim.admin.clearFaults();
  sim.admin.tick(20);

  await expectExactlyOnce(sim, subjects);
  const stats = feed.stats();
  assert.ok(stats.collapsed > 0, "duplicated frames were collapsed before publishing");
  assert.ok(stats.gaps >= 2, `gaps recorded: ${stats.gaps}`);
  assert.ok(stats.backfills >= 1, "gaps were backfilled");
  await eventually(() => feed.ready(), { message: "ready again" });
  await eventually(
    () =>
      MARKETS.every((m) =>
        health.some((h) => h.market === m && h.state === "fresh" && h.reconnects >= 2),
      ),
    { message: "health on md.v1.health.<MARKET> shows the reconnects" },
  );
});

test("market-feed - a burst beyond the outbox's pause mark pauses the sockets (backpressure) instead of dropping: no gap, every trade once", async () => {
  const sim = await startSim({
    port: 0,
    seed: 12,
    markets: MARKETS,
    tradesPerTick: 50,
    tradeLogLimit: 20_000,
  });
  cleanups.push(() => sim.stop());
  const ns = uniqueNamespace("mfbp");
  const subjects = await prepareStreams(nc, ns);
  // One publish in flight: the WebSocket delivers far faster than the outbox
  // drains. The sockets pause at 1 024 buffered and resume at 256
  // (backpressureMarks); at one publish per round trip a pause can outlast the
  // minimum FEED_STALL_MS, which must not count as a stall (socket.int.test.ts
  // proves that part with a fake clock).
  const feed = run(
    startFeed(
      feedConfig(natsUrl, ns, sim, {
        FEED_MAX_IN_FLIGHT: "1",
        FEED_BUFFER_MAX: "6000",
        FEED_STALL_MS: "500",
      }),
      nc,
      subjects,
    ),
  );
  await feed.start();
  await eventually(() => feed.ready(), { message: "feed ready" });
  // A trickle keeps the market live (no stall) around the burst.
  const trickle = setInterval(() => sim.admin.tick(1), 200);
  cleanups.push(async () => clearInterval(trickle));
  sim.admin.tick(70); // 7 000 trades at once
  await eventually(() => feed.stats().wsPauses > 0, { message: "sockets paused" });
  await eventually(() => feed.stats().published >= 7_000 && feed.stats().buffered === 0, {
    timeoutMs: 30_000,
    message: "the burst published",
  });
  const st = feed.stats();
  clearInterval(trickle);
  assert.equal(st.dropped, 0);
  assert.equal(st.gaps, 0);
  assert.equal(st.reconnects, 0, "a paused socket is not a stalled one");
  await expectExactlyOnce(sim, subjects);
});

test("market-feed - two feed instances side by side still put every trade on the stream once", async () => {
  const { sim, subjects, ns } = await setup();
  const config = feedConfig(natsUrl, ns, sim);
  const nc2 = await connectTest(natsUrl, "feed-test-2");
  cleanups.push(() => nc2.drain());
  const a = run(startFeed(config, nc, subjects, "a"));
  const b = run(startFeed(config, nc2, subjects, "b"));
  await Promise.all([a.start(), b.start()]);
  await eventually(() => a.ready() && b.ready(), { message: "both ready" });
  sim.admin.tick(30);
  sim.admin.disconnectWebSockets();
  sim.admin.tick(30);
  await expectExactlyOnce(sim, subjects);
  await eventually(() => a.stats().duplicateAcks + b.stats().duplicateAcks > 0, {
    message: "JetStream collapsed the second copy",
  });
});

test("market-feed - malformed frames are counted and skipped, never crash the feed", async () => {
  const { sim, subjects, ns } = await setup();
  const wss = new WebSocketServer({ port: 0, host: "127.0.0.1" });
  cleanups.push(() => new Promise((r) => wss.close(r)));
  await new Promise((r) => wss.once("listening", r));
  const good = (sid: number) =>
    Buffer.from(
      JSON.stringify({
        ty: "trade",
        cd: "KRW-BTC",
        tms: Date.now(),
        ttms: Date.now(),
        tp: 95000000,
        tv: 0.001,
        ab: "BID",
        sid,
        st: "REALTIME",
      }),
    );
  wss.on("connection", (ws) => {
    ws.once("message", () => {
      ws.send(Buffer.from("{not json"), { binary: true });
      ws.send(good(1));
      ws.send(Buffer.from('{"ty":"trade","cd":"KRW-BTC","tp":"x"}'), { binary: true });
      ws.send(Buffer.from([0xff, 0xfe, 0x00]), { binary: true });
      ws.send("[1,2,3]");
      ws.send(good(2));
    });
  });
  const port = (wss.address() as { port: number }).port;
  const config = feedConfig(natsUrl, ns, sim, {
    UPBIT_WS_URL: `ws://127.0.0.1:${port}`,
    FEED_MARKETS: "KRW-BTC",
    FEED_STALL_MS: "60000",
  });
  const feed = run(startFeed(config, nc, subjects));
  await feed.start();
  await eventually(() => feed.stats().published >= 2, { message: "good frames published" });
  assert.ok(feed.stats().invalidFrames >= 4, `invalid frames: ${feed.stats().invalidFrames}`);
  const trades = await streamTrades(nc, subjects);
  assert.deepEqual([...trades.keys()].sort(), ["KRW-BTC:1", "KRW-BTC:2"]);
});
