/**
 * order-exec: intent → simulator acknowledgement, signer and audit included
 * (real NATS, the signer in this process, fast acknowledged audit, the
 * simulator with its limits off and the governor off; the signer on a worker
 * thread of its own, as the separate process it is in production, and
 * order-exec's signer client on order-exec's connection as main.ts wires it;
 * ORDER_EXEC_BENCH_REPLICA_THREAD=1 also moves order-exec to a thread of its
 * own, which isolates its CPU per order but costs cross-thread wake-ups),
 * beside bare baselines
 * measured in the same run (NATS request-reply echo, undici round trip to the
 * simulator) and ccxt's createOrder against the same simulator.
 */
import { randomBytes } from "node:crypto";
import { performance } from "node:perf_hooks";
import { connectBus } from "@upline/shared";
import { emitBench, measureLatency } from "@upline/testkit";
import ccxt from "ccxt";
import { Pool } from "undici";
import { limitBuy, logger, startHarness } from "../test/harness.ts";

const SUITE = "order-exec";
const h = await startHarness({
  replicas: 1,
  signerThread: true,
  replicaThreads: process.env.ORDER_EXEC_BENCH_REPLICA_THREAD === "1",
  // The test spy (every event and audit record parsed into arrays) is not part of the system.
  spy: false,
  sim: { rateLimits: false },
  settings: { governor: false, maxOrdersPerS: 1_000_000, queueMs: 10_000 },
});
// Every bench order rests far below the market; give the account room for all of them.
h.sim.admin.setBalance(h.accessKey, "KRW", "100000000000000");

try {
  const echo = await connectBus(
    { NATS_URL: `nats://${h.nc.getServer()}` },
    { name: "bench-echo", logger },
  );
  const sub = echo.subscribe(`bench.echo.${randomBytes(4).toString("hex")}`, {
    callback: (_e, m) => {
      m.respond(m.data);
    },
  });
  await echo.flush();
  const payload = JSON.stringify(limitBuy("x"));
  const natsEcho = await measureLatency(
    () => h.nc.request(sub.getSubject(), payload, { timeout: 5_000 }),
    {
      total: 3_000,
      concurrency: 1,
      warmup: 300,
    },
  );

  const pool = new Pool(h.sim.restUrl, { connections: 4, pipelining: 1 });
  const http = await measureLatency(
    async () => {
      const r = await pool.request({
        method: "GET",
        path: "/v1/orderbook/instruments?markets=KRW-BTC",
      });
      await r.body.text();
    },
    { total: 3_000, concurrency: 1, warmup: 300 },
  );

  /**
   * Per thread: event-loop utilisation (busy share of wall time, inflated when
   * the machine is loaded) and CPU time per order (process.threadCpuUsage).
   */
  const threads = async <T>(orders: number, run: () => Promise<T>) => {
    const stopSigner = await h.signerElu();
    const stopReplicas = await h.replicaElu();
    const elu0 = performance.eventLoopUtilization();
    const cpu0 = process.threadCpuUsage();
    const all0 = process.cpuUsage();
    const result = await run();
    const cpu = process.threadCpuUsage(cpu0);
    const all = process.cpuUsage(all0);
    const main = {
      elu: performance.eventLoopUtilization(elu0).utilization,
      cpuUs: cpu.user + cpu.system,
    };
    const signer = await stopSigner();
    const replicas = await stopReplicas();
    const fmt = (t: { elu: number; cpuUs: number }) =>
      `busy ${Math.round(t.elu * 100)}%, ${Math.round(t.cpuUs / orders)} µs CPU/order`;
    const who =
      replicas.length > 0
        ? `main thread (bench client + simulator) ${fmt(main)}; order-exec thread ${replicas.map(fmt).join(" / ")}`
        : `main thread (bench client + order-exec + simulator) ${fmt(main)}`;
    return {
      ...result,
      cpu_pct: Math.round(main.elu * 100),
      threads: `${who}; signer thread ${fmt(signer)}; whole process ${Math.round((all.user + all.system) / orders)} µs CPU/order (nats-server not included)`,
    };
  };
  const ours = await threads(2_000, () =>
    measureLatency(
      async () => {
        const r = await h.place(limitBuy(), 10_000);
        if (r.status !== "accepted") throw new Error(JSON.stringify(r));
      },
      { total: 2_000, concurrency: 1, warmup: 200 },
    ),
  );
  const sustained = await threads(6_000, () =>
    measureLatency(
      async () => {
        const r = await h.place(limitBuy(), 30_000);
        if (r.status !== "accepted") throw new Error(JSON.stringify(r));
      },
      { total: 6_000, concurrency: 64, warmup: 500 },
    ),
  );

  // ccxt holds the key itself (no signer, no audit, no idempotency): its own sign + HTTP path.
  const ccxtRows = await ccxtLatency();

  emitBench([
    { suite: SUITE, kind: "baseline", name: "NATS request-reply echo, 1 concurrent", ...natsEcho },
    {
      suite: SUITE,
      kind: "baseline",
      name: "undici keep-alive GET to the simulator, 1 concurrent",
      ...http,
    },
    {
      suite: SUITE,
      kind: "ours",
      name: "intent → simulator ack (claim, signer, audit ack, POST), 1 concurrent",
      ...ours,
      notes: `p50 goal < 1.5 ms, p99 < 5 ms; ${ours.threads}`,
    },
    {
      suite: SUITE,
      kind: "ours",
      name: "sustained orders/s, 64 concurrent, simulator limits off",
      ...sustained,
      notes: `goal ≥ 2,000 orders/s; ${sustained.threads}`,
    },
    ...ccxtRows,
  ]);
  sub.unsubscribe();
  await echo.drain();
  await pool.close();
} finally {
  await h.stop();
}

/** ccxt against a simulator like ours (same seed and settings, its own account: accounts are fixed at start). */
async function ccxtLatency() {
  const { startSim } = await import("@upline/upbit-sim");
  const accessKey = `ak-${randomBytes(12).toString("hex")}`;
  const secretKey = `sk-${randomBytes(24).toString("hex")}`;
  const sim = await startSim({
    port: 0,
    seed: 11,
    markets: ["KRW-BTC"],
    rateLimits: false,
    accounts: [{ accessKey, secretKey, balances: { KRW: "100000000000000" } }],
  });
  try {
    const ex = new ccxt.upbit({ apiKey: accessKey, secret: secretKey, enableRateLimit: false });
    ex.urls.api = { ...ex.urls.api, public: sim.restUrl, private: sim.restUrl };
    await ex.loadMarkets();
    const one = await measureLatency(
      () => ex.createOrder("BTC/KRW", "limit", "buy", 0.0001, 90_000_000),
      {
        total: 1_000,
        concurrency: 1,
        warmup: 100,
      },
    );
    // The signing peer: ccxt's own upbit.sign() for the same order body, in process
    // (the signer suite's comparison; ccxt holds the secret, no caller auth, no audit).
    const body = {
      market: "KRW-BTC",
      side: "bid",
      volume: "0.0001",
      price: "90000000",
      ord_type: "limit",
    };
    for (let i = 0; i < 2_000; i++) ex.sign("orders", "private", "POST", body);
    const n = 50_000;
    const t0 = performance.now();
    for (let i = 0; i < n; i++) ex.sign("orders", "private", "POST", body);
    const signPerS = Math.round(n / ((performance.now() - t0) / 1000));
    return [
      {
        suite: SUITE,
        kind: "peer" as const,
        name: "ccxt 4.5.84 createOrder → simulator ack, 1 concurrent (no signer, no audit, no idempotency)",
        ...one,
      },
      {
        suite: "signer",
        kind: "peer" as const,
        name: "ccxt 4.5.84 upbit.sign() for POST /v1/orders, in process (holds the secret; no caller auth, no audit)",
        ops_per_s: signPerS,
      },
    ];
  } finally {
    await sim.stop();
  }
}
