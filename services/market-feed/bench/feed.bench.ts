/**
 * market-feed benchmark (`pnpm bench`, suite "market-feed"). The simulator runs
 * in a child process (sim-driver.ts), so CPU and RSS are the feed's own.
 * - baseline: raw acknowledged JetStream publishes of trade-sized messages
 *   through the same publisher (core publish + acks on one inbox, 1024 in
 *   flight), and `js.publish` with 256 in flight, in this run;
 * - ours: sustained messages/s from the simulator's WebSocket to acknowledged
 *   JetStream publishes (trades; then trades + tickers + order books), every
 *   publish acknowledged;
 * - ours: p50/p99 exchange timestamp → JetStream ack at 5,000 trades/s offered
 *   (exchange timestamps are whole ms, so figures carry up to 1 ms of rounding);
 * - peer: ccxt.pro's upbit client watching the same simulator stream (trades parsed/s).
 * Both sustained rows and the ccxt.pro row measure the same way: an unmeasured
 * warm-up burst of BENCH_WARM_TICKS (default 1000 ticks = 100,000 trades),
 * waited for until every message of it is acknowledged (ours) / its last
 * trade is returned (ccxt.pro); then the clock runs from the measured burst's
 * start until the last of its messages is acknowledged (ours) / returned by
 * watchTrades (ccxt.pro), polled every 2 ms; rate = WebSocket messages the
 * simulator sent ÷ that time. Before 2026-11-22 the warm-up was 100 ticks,
 * which left V8's optimizing compiles inside the measured window (issue-5
 * notes).
 * Knobs: BENCH_PHASES (baseline,trades,all,latency,ccxt), BENCH_BURST_TICKS,
 * BENCH_WARM_TICKS, BENCH_IN_FLIGHT; UPLINE_TESTKIT_NATS_GOMAXPROCS sets nats-server's.
 * Run: node scripts/bench.ts services/market-feed/bench/feed.bench.ts
 */
import { type ChildProcess, fork } from "node:child_process";
import { performance } from "node:perf_hooks";
import { jetstream } from "@nats-io/jetstream";
import {
  connectBus,
  createJsPublisher,
  createLogger,
  createSubjects,
  defaultStreamLimits,
  ensureStreams,
  loadConfig,
} from "@upline/shared";
import {
  type BenchRow,
  cpuMeter,
  emitBench,
  eventually,
  percentile,
  rssMb,
  startNats,
  uniqueNamespace,
} from "@upline/testkit";
import ccxt from "ccxt";
import { buildMarketFeed, configSchema, type MarketFeed } from "../src/index.ts";

const MARKETS = ["KRW-BTC", "KRW-ETH"];
const BURST_TICKS = Number(process.env.BENCH_BURST_TICKS ?? 1_500); // × 50 trades × 2 markets
// Unmeasured burst before each measured one, the same for ours and ccxt.pro.
const WARM_TICKS = Number(process.env.BENCH_WARM_TICKS ?? 1_000);
const RATE = 5_000;
const RATE_MS = 5_000;

interface Driver {
  readonly wsUrl: string;
  readonly restUrl: string;
  readonly run: (
    msg: object,
  ) => Promise<{ sent: number; last: Record<string, string>; ms: number }>;
  readonly stop: () => Promise<void>;
}

async function startDriver(tradesPerTick: number): Promise<Driver> {
  const child: ChildProcess = fork(new URL("./sim-driver.ts", import.meta.url), {
    env: {
      ...process.env,
      BENCH_MARKETS: MARKETS.join(","),
      BENCH_TRADES_PER_TICK: String(tradesPerTick),
    },
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  const urls = await new Promise<{ wsUrl: string; restUrl: string }>((r) =>
    child.once("message", (m) => r(m as { wsUrl: string; restUrl: string })),
  );
  return {
    ...urls,
    run: (msg) =>
      new Promise((resolve) => {
        child.once("message", (m) =>
          resolve(m as { sent: number; last: Record<string, string>; ms: number }),
        );
        child.send(msg);
      }),
    stop: async () => {
      const exited = new Promise((r) => child.once("exit", r));
      child.send({ cmd: "stop" });
      await exited;
    },
  };
}

/** CPU time per message: a throughput figure that does not depend on the simulator's pace. */
const usPerMsg = (cpuPct: number, seconds: number, messages: number) =>
  ((cpuPct / 100) * seconds * 1e6) / Math.max(1, messages);

const logger = createLogger({ service: "market-feed", level: "silent" });
// The bench's own nats-server runs as every NATS container of the testkit
// does (UPLINE_TESTKIT_NATS_GOMAXPROCS, default 1: one core for Go's scheduler, as
// docker-compose and Kubernetes run it); it shares the 2 cores with the feed
// and the simulator in our rows only (the ccxt.pro row publishes nothing).
const nats = await startNats({ dedicated: true });
const nc = await connectBus({ NATS_URL: nats.url }, { name: "feed-bench", logger });
const rows: BenchRow[] = [];
const suite = "market-feed";

const phases = (process.env.BENCH_PHASES ?? "baseline,trades,all,latency,ccxt").split(",");

// ------------------------------------------------------------------ baseline
if (phases.includes("baseline")) {
  const subjects = createSubjects(uniqueNamespace("mfb"));
  await ensureStreams(nc, subjects, defaultStreamLimits);
  const subject = subjects.md.event("trade", "KRW-BTC");
  const body = new TextEncoder().encode(
    JSON.stringify({
      type: "trade",
      market: "KRW-BTC",
      exchange_ts: Date.now(),
      received_ts: Date.now(),
      price: "95000000",
      volume: "0.00123456",
      side: "bid",
      sequential_id: "1763700000123000",
    }),
  );
  const pub = createJsPublisher(nc, { maxOutstanding: 1024 });
  const total = 200_000;
  const cpu = cpuMeter();
  const t0 = performance.now();
  let acked = 0;
  const inflight = new Set<Promise<unknown>>();
  for (let i = 0; i < total; i++) {
    const p = pub.publish(subject, body, { msgId: `b${i}` }).then(() => {
      acked++;
      inflight.delete(p);
    });
    inflight.add(p);
    if (inflight.size >= 1024) await Promise.race(inflight);
  }
  await Promise.all(inflight);
  const s = (performance.now() - t0) / 1000;
  rows.push({
    suite,
    kind: "baseline",
    name: "raw JetStream publish (core publish + acks on one inbox, 1024 in flight)",
    ops_per_s: Math.round(acked / s),
    cpu_pct: cpu(),
    rss_mb: rssMb(),
  });
  await pub.close();

  const js = jetstream(nc);
  const total2 = 40_000;
  const t1 = performance.now();
  const pending = new Set<Promise<unknown>>();
  for (let i = 0; i < total2; i++) {
    const p: Promise<unknown> = js
      .publish(subject, body, { msgID: `j${i}` })
      .then(() => pending.delete(p));
    pending.add(p);
    if (pending.size >= 256) await Promise.race(pending);
  }
  await Promise.all(pending);
  rows.push({
    suite,
    kind: "baseline",
    name: "js.publish, 256 in flight",
    ops_per_s: Math.round(total2 / ((performance.now() - t1) / 1000)),
  });
}

// ------------------------------------------------------------------ ours
async function feedRun(
  driver: Driver,
  channels: string,
  onPublished?: (exchangeTs: number) => void,
): Promise<{ feed: MarketFeed; published: () => number }> {
  const ns = uniqueNamespace("mff");
  const subjects = createSubjects(ns);
  await ensureStreams(nc, subjects, defaultStreamLimits);
  const config = loadConfig(configSchema, {
    NATS_URL: nats.url,
    UPLINE_NAMESPACE: ns,
    UPBIT_WS_URL: driver.wsUrl,
    UPBIT_REST_URL: driver.restUrl,
    FEED_MARKETS: MARKETS.join(","),
    FEED_CHANNELS: channels,
    FEED_BUFFER_MAX: "1000000",
    FEED_MAX_IN_FLIGHT: process.env.BENCH_IN_FLIGHT ?? "1024",
    FEED_STALL_MS: "60000",
  });
  // The sustained rows count acks from the feed's own counter: a callback per
  // ack would be harness work inside our measured window that the ccxt.pro row
  // does not have. Only the latency row needs one.
  const feed = buildMarketFeed({
    config,
    nc,
    subjects,
    logger,
    ...(onPublished === undefined ? {} : { onPublished: (p) => onPublished(p.exchangeTs) }),
  });
  await feed.start();
  await eventually(() => feed.health().every((h) => h.state !== "disconnected"), {
    timeoutMs: 10_000,
  });
  return { feed, published: () => feed.stats().published };
}

async function sustained(channels: string, label: string): Promise<void> {
  const driver = await startDriver(50);
  const { feed, published } = await feedRun(driver, channels);
  // The warm-up is over when every message of it is taken in and acknowledged
  // (an empty outbox alone can be a moment while more of it is still in transit).
  const warmBase = feed.stats().received;
  const warm = await driver.run({ cmd: "burst", ticks: WARM_TICKS });
  await eventually(
    () =>
      feed.stats().received - warmBase >= warm.sent &&
      feed.stats().buffered === 0 &&
      feed.stats().inFlight === 0,
    { timeoutMs: 60_000, intervalMs: 2 },
  );
  const received0 = feed.stats().received;
  const published0 = published();
  const collapsed0 = feed.stats().collapsed;
  const stats0 = feed.stats();
  const cpu = cpuMeter();
  const t0 = performance.now();
  const { sent, ms: driverMs } = await driver.run({ cmd: "burst", ticks: BURST_TICKS });
  // Every message the simulator sent is either acknowledged or (tickers of one ms) collapsed.
  await eventually(
    () =>
      feed.stats().received - received0 >= sent &&
      feed.stats().buffered === 0 &&
      feed.stats().inFlight === 0,
    { timeoutMs: 120_000, intervalMs: 2 },
  );
  const s = (performance.now() - t0) / 1000;
  const cpuPct = cpu();
  const acked = published() - published0;
  const collapsed = feed.stats().collapsed - collapsed0;
  const st = feed.stats();
  rows.push({
    suite,
    kind: "ours",
    name: `market-feed ${label}: simulator WebSocket → acknowledged JetStream publishes`,
    ops_per_s: Math.round(sent / s),
    cpu_pct: cpuPct,
    rss_mb: rssMb(),
    notes: `simulator sent for ${driverMs} ms of ${Math.round(s * 1000)}; ${usPerMsg(cpuPct, s, sent).toFixed(1)} µs CPU/msg; ${sent} WS messages, ${acked} acked publishes, ${collapsed} collapsed (same-ms tickers), dropped ${st.dropped}, publish failures ${st.publishFailures}, invalid ${st.invalidFrames}, ws pauses ${st.wsPauses - stats0.wsPauses}`,
  });
  await feed.stop();
  await driver.stop();
}

if (phases.includes("trades")) await sustained("trade", "trades");
if (phases.includes("all")) await sustained("trade,ticker,orderbook", "trades+tickers+books");

// ------------------------------------------------------------------ latency at 5k/s offered
if (phases.includes("latency")) {
  const driver = await startDriver(1);
  const latencies: number[] = [];
  let recording = false;
  const { feed } = await feedRun(driver, "trade", (ts) => {
    if (recording) latencies.push((performance.timeOrigin + performance.now() - ts) * 1000);
  });
  await driver.run({ cmd: "rate", tradesPerS: RATE, ms: 1000 }); // warm-up
  recording = true;
  const cpu = cpuMeter();
  const { sent } = await driver.run({ cmd: "rate", tradesPerS: RATE, ms: RATE_MS });
  await eventually(() => feed.stats().buffered === 0 && feed.stats().inFlight === 0);
  recording = false;
  latencies.sort((a, b) => a - b);
  rows.push({
    suite,
    kind: "ours",
    name: `market-feed exchange→published latency at ${RATE} trades/s offered`,
    ops_per_s: Math.round(sent / (RATE_MS / 1000)),
    p50_us: Math.round(percentile(latencies, 50)),
    p99_us: Math.round(percentile(latencies, 99)),
    cpu_pct: cpu(),
    rss_mb: rssMb(),
    notes: `${latencies.length} samples; exchange ts is whole ms (≤ 1 ms rounding up)`,
  });
  await feed.stop();
  await driver.stop();
}

// ------------------------------------------------------------------ ccxt.pro reference
if (phases.includes("ccxt")) {
  const driver = await startDriver(50);
  // biome-ignore lint/suspicious/noExplicitAny: ccxt's exchange classes are loosely typed
  const pro: any = new ccxt.pro.upbit({ enableRateLimit: false });
  pro.urls.api = {
    ...pro.urls.api,
    public: driver.restUrl,
    private: driver.restUrl,
    ws: driver.wsUrl,
  };
  await pro.loadHttpProxyAgent();
  await pro.loadMarkets();
  const symbols = MARKETS.map((m) => `${m.split("-")[1]}/${m.split("-")[0]}`);
  let parsed = 0;
  const lastSeen = new Map<string, string>();
  let running = true;
  const loops = symbols.map(async (symbol) => {
    while (running) {
      const trades = await pro.watchTrades(symbol).catch(() => []);
      parsed += trades.length;
      const t = trades[trades.length - 1];
      if (t !== undefined) lastSeen.set(symbol, String(t.id));
    }
  });
  // As for ours: the warm-up is over when its last trade has been returned.
  const warm = await driver.run({ cmd: "burst", ticks: WARM_TICKS });
  await eventually(
    () => MARKETS.every((m, i) => lastSeen.get(symbols[i] as string) === warm.last[m]),
    { timeoutMs: 60_000, intervalMs: 2 },
  );
  const cpu = cpuMeter();
  const parsed0 = parsed;
  const t0 = performance.now();
  const { sent, last, ms: driverMs } = await driver.run({ cmd: "burst", ticks: BURST_TICKS });
  const done = eventually(
    () => MARKETS.every((m, i) => lastSeen.get(symbols[i] as string) === last[m]),
    { timeoutMs: 120_000, intervalMs: 2 },
  );
  await done.catch(() => {});
  const s = (performance.now() - t0) / 1000;
  const cpuPct = cpu();
  rows.push({
    suite,
    kind: "peer",
    name: "ccxt.pro upbit watchTrades on the same simulator stream (trades parsed)",
    ops_per_s: Math.round(sent / s),
    cpu_pct: cpuPct,
    rss_mb: rssMb(),
    notes: `simulator sent for ${driverMs} ms of ${Math.round(s * 1000)}; ${usPerMsg(cpuPct, s, sent).toFixed(1)} µs CPU/msg; ${sent} WS messages; ${parsed - parsed0} trades returned by watchTrades (its cache keeps the newest 1000)`,
  });
  running = false;
  await pro.close();
  await Promise.race([Promise.all(loops), new Promise((r) => setTimeout(r, 1000))]);
  await driver.stop();
}

emitBench(rows);
for (const r of rows)
  process.stderr.write(
    `${r.kind?.padEnd(8)} ${String(r.ops_per_s ?? "").padStart(8)}/s p50 ${r.p50_us ?? "-"}µs p99 ${r.p99_us ?? "-"}µs cpu ${r.cpu_pct ?? "-"}% rss ${r.rss_mb ?? "-"}MB  ${r.name}${r.notes ? ` (${r.notes})` : ""}\n`,
  );
await nc.drain();
await nats.stop();
