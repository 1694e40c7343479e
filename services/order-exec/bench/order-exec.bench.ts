/**
 * order-exec: intent → simulator acknowledgement, signer and audit included
 * (real NATS, fast acknowledged audit, the simulator with its limits off and
 * the governor off), beside bare baselines measured in the same run (NATS
 * request-reply echo, undici round trip to the simulator) and ccxt's
 * createOrder against the same kind of simulator, sequential and at our
 * sustained row's concurrency.
 *
 * Topology (one Node process, two cores shared with nats-server):
 * - main thread: order-exec (its signer client on its connection, as main.ts
 *   wires it) and the load generator on a connection of its own (coalesced
 *   writes, one reply inbox; ORDER_EXEC_BENCH_LEAN_CLIENT=0: the harness's
 *   zod-checked request() instead);
 * - the signer on a worker thread with its own connection (a separate process
 *   in production);
 * - the simulator on a worker thread (never in order-exec's process in a
 *   deployment; ORDER_EXEC_BENCH_SIM_THREAD=0 puts it back on the main thread);
 * - ORDER_EXEC_BENCH_REPLICA_THREAD=1 also moves order-exec to a thread of its
 *   own, which isolates its CPU per order.
 * Every ours-row prints each thread's busy share and CPU µs per order, the
 * whole process's, and nats-server's (its container's process, from /proc).
 * ORDER_EXEC_BENCH_PHASES (echo,http,one,sustained,ccxt) runs a subset;
 * ORDER_EXEC_BENCH_COALESCE=0 turns off order-exec's write coalescing (A/B).
 */
import { randomBytes } from "node:crypto";
import { performance } from "node:perf_hooks";
import { Worker } from "node:worker_threads";
import { createInbox, type NatsConnection } from "@nats-io/transport-node";
import { connectBus, ERROR_HEADER, type OrderReply } from "@upline/shared";
import { containerCpuMeter, emitBench, measureLatency } from "@upline/testkit";
import type { SimOptions } from "@upline/upbit-sim";
import ccxt from "ccxt";
import { Pool } from "undici";
import { coalesceWrites } from "../src/index.ts";
import { limitBuy, logger, startHarness } from "../test/harness.ts";

const SUITE = "order-exec";
/** Phase subset for short runs (profiles, shared machine): comma list of echo,http,one,sustained,ccxt (default all). */
const PHASES = new Set(
  (process.env.ORDER_EXEC_BENCH_PHASES ?? "echo,http,one,sustained,ccxt").split(","),
);
const SIM_THREAD = process.env.ORDER_EXEC_BENCH_SIM_THREAD !== "0";
const skipped = { ops_per_s: 0, p50_us: 0, p99_us: 0 };
const h = await startHarness({
  replicas: 1,
  signerThread: true,
  replicaThreads: process.env.ORDER_EXEC_BENCH_REPLICA_THREAD === "1",
  // The exchange stand-in is not part of order-exec's process in any deployment:
  // its own thread (ORDER_EXEC_BENCH_SIM_THREAD=0 puts it back on the main thread).
  simThread: SIM_THREAD,
  // Every bench order rests far below the market; give the account room for all of them.
  simBalances: { KRW: "100000000000000", BTC: "1000", ETH: "100000" },
  // The test spy (every event and audit record parsed into arrays) is not part of the system.
  spy: false,
  sim: { rateLimits: false },
  settings: {
    governor: false,
    maxOrdersPerS: 1_000_000,
    queueMs: 10_000,
    // ORDER_EXEC_BENCH_COALESCE=0: nats.js's own write per microtask checkpoint (A/B).
    coalesceWrites: process.env.ORDER_EXEC_BENCH_COALESCE !== "0",
  },
});

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
  const natsEcho = !PHASES.has("echo")
    ? skipped
    : await measureLatency(() => h.nc.request(sub.getSubject(), payload, { timeout: 5_000 }), {
        total: 3_000,
        concurrency: 1,
        warmup: 300,
      });

  // The load generator: strategies are other processes with their own
  // connections; this one sends intents on a connection of its own, with
  // coalesced writes and one reply inbox (no per-request nats.js objects), so
  // that it takes as little as it can from the thread order-exec runs on.
  // ORDER_EXEC_BENCH_LEAN_CLIENT=0: the harness's zod-checked `request()` on
  // the shared test connection instead.
  const clientNc = await connectBus(
    { NATS_URL: `nats://${h.nc.getServer()}` },
    { name: "bench-client", logger },
  );
  coalesceWrites(clientNc);
  const lean = leanRequester(clientNc);
  const place =
    process.env.ORDER_EXEC_BENCH_LEAN_CLIENT === "0"
      ? (intent: unknown, timeoutMs: number) => h.place(intent, timeoutMs)
      : (intent: unknown, timeoutMs: number) =>
          lean(h.subjects.orders.place, JSON.stringify(intent), timeoutMs);

  const pool = new Pool(h.sim.restUrl, { connections: 4, pipelining: 1 });
  const http = !PHASES.has("http")
    ? skipped
    : await measureLatency(
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
    const stopSim = await h.simElu();
    const elu0 = performance.eventLoopUtilization();
    const cpu0 = process.threadCpuUsage();
    const all0 = process.cpuUsage();
    // nats-server's own CPU: the six JetStream stores per order cost it about as much as a thread of ours.
    const natsCpu = containerCpuMeter(h.natsContainerId);
    const result = await run();
    const natsUs = natsCpu(orders);
    const cpu = process.threadCpuUsage(cpu0);
    const all = process.cpuUsage(all0);
    const main = {
      elu: performance.eventLoopUtilization(elu0).utilization,
      cpuUs: cpu.user + cpu.system,
    };
    const signer = await stopSigner();
    const replicas = await stopReplicas();
    const simUse = await stopSim();
    const fmt = (t: { elu: number; cpuUs: number }) =>
      `busy ${Math.round(t.elu * 100)}%, ${Math.round(t.cpuUs / orders)} µs CPU/order`;
    const mainHas = `bench client${replicas.length > 0 ? "" : " + order-exec"}${SIM_THREAD ? "" : " + simulator"}`;
    const who = [
      `main thread (${mainHas}) ${fmt(main)}`,
      ...(replicas.length > 0 ? [`order-exec thread ${replicas.map(fmt).join(" / ")}`] : []),
      ...(SIM_THREAD ? [`simulator thread ${fmt(simUse)}`] : []),
    ].join("; ");
    return {
      ...result,
      cpu_pct: Math.round(main.elu * 100),
      threads: `${who}; signer thread ${fmt(signer)}; whole process ${Math.round((all.user + all.system) / orders)} µs CPU/order ${
        natsUs === undefined
          ? " (nats-server not readable)"
          : `; nats-server ${Math.round(natsUs)} µs CPU/order`
      }`,
    };
  };
  const ours = !PHASES.has("one")
    ? { ...skipped, threads: "", cpu_pct: 0 }
    : await threads(2_000, () =>
        measureLatency(
          async () => {
            const r = await place(limitBuy(), 10_000);
            if (r.status !== "accepted") throw new Error(JSON.stringify(r));
          },
          { total: 2_000, concurrency: 1, warmup: 200 },
        ),
      );
  const sustained = !PHASES.has("sustained")
    ? { ...skipped, threads: "", cpu_pct: 0 }
    : await threads(6_000, () =>
        measureLatency(
          async () => {
            const r = await place(limitBuy(), 30_000);
            if (r.status !== "accepted") throw new Error(JSON.stringify(r));
          },
          { total: 6_000, concurrency: 64, warmup: 500 },
        ),
      );

  // ccxt holds the key itself (no signer, no audit, no idempotency): its own sign + HTTP path.
  const ccxtRows = PHASES.has("ccxt") ? await ccxtLatency() : [];

  // A phase left out by ORDER_EXEC_BENCH_PHASES prints no row (not a row of zeros).
  emitBench([
    ...(PHASES.has("echo")
      ? [
          {
            suite: SUITE,
            kind: "baseline" as const,
            name: "NATS request-reply echo, 1 concurrent",
            ...natsEcho,
          },
        ]
      : []),
    ...(PHASES.has("http")
      ? [
          {
            suite: SUITE,
            kind: "baseline" as const,
            name: "undici keep-alive GET to the simulator, 1 concurrent",
            ...http,
          },
        ]
      : []),
    ...(PHASES.has("one")
      ? [
          {
            suite: SUITE,
            kind: "ours" as const,
            name: "intent → simulator ack (claim, signer, audit ack, POST), 1 concurrent",
            ...ours,
            notes: `p50 goal < 1.5 ms, p99 < 5 ms; ${ours.threads}`,
          },
        ]
      : []),
    ...(PHASES.has("sustained")
      ? [
          {
            suite: SUITE,
            kind: "ours" as const,
            name: "sustained orders/s, 64 concurrent, simulator limits off",
            ...sustained,
            notes: `goal ≥ 2,000 orders/s; ${sustained.threads}`,
          },
        ]
      : []),
    ...ccxtRows,
  ]);
  sub.unsubscribe();
  await echo.drain();
  await clientNc.drain();
  await pool.close();
} finally {
  await h.stop();
}

/**
 * Request-reply with one wildcard inbox and a map of pending requests: no
 * Error object, timer or promise chain of nats.js's per request. A reply with
 * the error header is thrown as its code; otherwise the reply is parsed.
 */
function leanRequester(nc: NatsConnection) {
  const prefix = createInbox();
  const pending = new Map<
    number,
    { resolve: (r: OrderReply) => void; reject: (e: Error) => void; deadline: number }
  >();
  let next = 0;
  nc.subscribe(`${prefix}.*`, {
    callback: (_err, m) => {
      const id = Number(m.subject.slice(prefix.length + 1));
      const p = pending.get(id);
      if (p === undefined) return;
      pending.delete(id);
      const code = m.headers?.get(ERROR_HEADER);
      if (code) p.reject(new Error(`${code}: ${m.string()}`));
      else p.resolve(JSON.parse(m.string()) as OrderReply);
    },
  });
  setInterval(() => {
    const now = Date.now();
    for (const [id, p] of pending) {
      if (p.deadline > now) continue;
      pending.delete(id);
      p.reject(new Error("request timed out"));
    }
  }, 100).unref();
  return (subject: string, body: string, timeoutMs: number) =>
    new Promise<OrderReply>((resolve, reject) => {
      const id = next++;
      pending.set(id, { resolve, reject, deadline: Date.now() + timeoutMs });
      nc.publish(subject, body, { reply: `${prefix}.${id}` });
    });
}

/** ccxt against a simulator like ours (same seed and settings, its own account: accounts are fixed at start). */
async function ccxtLatency() {
  const { startSim } = await import("@upline/upbit-sim");
  const accessKey = `ak-${randomBytes(12).toString("hex")}`;
  const secretKey = `sk-${randomBytes(24).toString("hex")}`;
  const simOptions: SimOptions = {
    port: 0,
    seed: 11,
    markets: ["KRW-BTC"],
    rateLimits: false,
    accounts: [{ accessKey, secretKey, balances: { KRW: "100000000000000" } }],
  };
  // The same topology as ours: the simulator on its own thread unless ORDER_EXEC_BENCH_SIM_THREAD=0.
  let sim: { restUrl: string; stop: () => Promise<unknown> };
  if (SIM_THREAD) {
    const worker = new Worker(new URL("../test/sim-worker.ts", import.meta.url), {
      workerData: simOptions,
    });
    const ready = await new Promise<{ restUrl: string }>((resolve, reject) => {
      worker.once("error", reject);
      worker.on("message", (m: { ready?: boolean; restUrl: string }) => {
        if (m.ready) resolve(m);
      });
    });
    sim = { restUrl: ready.restUrl, stop: () => worker.terminate() };
  } else sim = await startSim(simOptions);
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
    // The same concurrency as our sustained row (ccxt holds the key: no signer hop, no audit, no claim).
    const many = await measureLatency(
      () => ex.createOrder("BTC/KRW", "limit", "buy", 0.0001, 90_000_000),
      { total: 6_000, concurrency: 64, warmup: 500 },
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
        suite: SUITE,
        kind: "peer" as const,
        name: "ccxt 4.5.84 createOrder → simulator ack, 64 concurrent (no signer, no audit, no idempotency)",
        ...many,
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
