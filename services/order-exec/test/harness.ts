/**
 * Integration harness: real NATS (testkit), a real signer in-process with
 * generated keys, the Upbit simulator, and N order-exec replicas. Events and
 * audit records are collected from the bus. Test-time keys only.
 */

import { generateKeyPairSync, randomBytes } from "node:crypto";
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Kvm } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/transport-node";
import {
  AuditEvent,
  CancelReply,
  CancelRequest,
  connectBus,
  createLogger,
  createSubjects,
  ensureStreams,
  type Logger,
  OrderEvent,
  OrderIntent,
  OrderRef,
  OrderReply,
  OrderStatus,
  request,
  type Subjects,
  type TradingState,
} from "@upline/shared";
import { buildSigner, createSignerClient, type Signer, type SignerClient } from "@upline/signer";
import {
  startNats,
  startThread,
  type ThreadHandle,
  type ThreadUse,
  uniqueNamespace,
} from "@upline/testkit";
import { type Sim, type SimOptions, startSim } from "@upline/upbit-sim";
import {
  buildOrderExec,
  type OrderExec,
  type OrderExecSettings,
  SIGNER_ENDPOINTS,
} from "../src/index.ts";
import { limitBidFields } from "./fixtures.ts";

export const logger: Logger = createLogger({
  service: "order-exec",
  level: process.env.TEST_LOG_LEVEL ?? "silent",
});

export interface Harness {
  readonly nc: NatsConnection;
  /** The NATS server's container (undefined for a server given by URL): benchmarks read its CPU. */
  readonly natsContainerId: string | undefined;
  readonly subjects: Subjects;
  readonly sim: Sim;
  /** The in-process signer; undefined when it runs on its own thread (`signerThread`). */
  readonly signer: Signer | undefined;
  /** A signer client on the test connection (each replica has its own on its connection). */
  readonly client: SignerClient;
  /** The signer thread's event-loop utilisation and CPU time between two calls (zeros when in-process). */
  readonly signerElu: () => Promise<() => Promise<ThreadUse>>;
  /** The simulator thread's event-loop utilisation and CPU time between two calls (zeros when in-process). */
  readonly simElu: () => Promise<() => Promise<ThreadUse>>;
  /** Each replica thread's event-loop utilisation and CPU time between two calls (empty when in-process). */
  readonly replicaElu: () => Promise<() => Promise<ThreadUse[]>>;
  readonly execs: OrderExec[];
  /** Starts one more in-process replica (settings overridden by `overrides`). */
  readonly startReplica: (overrides?: Partial<OrderExecSettings>) => Promise<OrderExec>;
  readonly accessKey: string;
  readonly events: OrderEvent[];
  readonly audits: AuditEvent[];
  readonly place: (intent: unknown, timeoutMs?: number) => Promise<OrderReply>;
  readonly cancel: (req: unknown) => Promise<CancelReply>;
  readonly get: (ref: unknown) => Promise<OrderStatus>;
  /** Sends raw bytes to a subject and returns the reply's error code header and body. */
  readonly raw: (
    subject: string,
    body: string | Uint8Array,
  ) => Promise<{ code: string | undefined; body: string }>;
  readonly setTrading: (state: TradingState) => Promise<void>;
  readonly stop: () => Promise<void>;
}

/** A worker thread's event-loop utilisation (0–1) and CPU time (µs) over a period. */
export interface HarnessOptions {
  readonly replicas?: number;
  readonly sim?: Partial<SimOptions>;
  readonly settings?: Partial<OrderExecSettings>;
  readonly privateWs?: boolean;
  /** Run the signer on a worker thread with its own NATS connection (benchmarks). */
  readonly signerThread?: boolean;
  /**
   * Run the simulator on a worker thread of its own (benchmarks); `sim` then
   * only has `restUrl`, `privateWsUrl` and `stop` (no `admin`, no counters);
   * set the account's balances through `simBalances`.
   */
  readonly simThread?: boolean;
  /** The harness account's balances in the simulator (default KRW 100 bn, BTC 1,000, ETH 100,000). */
  readonly simBalances?: Readonly<Record<string, string>>;
  /** Run each replica on a worker thread of its own (benchmarks); `execs` is then empty. */
  readonly replicaThreads?: boolean;
  /** Collect every event and audit record into `events` / `audits` (default true; benchmarks turn it off). */
  readonly spy?: boolean;
}

export const MARKETS = ["KRW-BTC", "KRW-ETH"];

export async function startHarness(options: HarnessOptions = {}): Promise<Harness> {
  const cleanup: (() => Promise<unknown>)[] = [];
  try {
    return await startHarnessInner(options, cleanup);
  } catch (err) {
    for (const c of cleanup.reverse()) await c().catch(() => undefined);
    throw err;
  }
}

async function startHarnessInner(
  options: HarnessOptions,
  cleanup: (() => Promise<unknown>)[],
): Promise<Harness> {
  const subjects = createSubjects(uniqueNamespace());
  const root = mkdtempSync(join(tmpdir(), "order-exec-test-"));
  const keysDir = join(root, "keys");
  mkdirSync(keysDir, { mode: 0o700 });
  const accessKey = `ak-${randomBytes(12).toString("hex")}`;
  const secretKey = `sk-${randomBytes(24).toString("hex")}`;
  const keyPath = join(keysDir, "main.json");
  writeFileSync(
    keyPath,
    JSON.stringify({
      key_id: "main",
      version: 1,
      access_key: accessKey,
      secret_key: secretKey,
      account: "main",
      scopes: ["view_accounts", "make_orders", "view_orders"],
    }),
    { mode: 0o600 },
  );
  chmodSync(keyPath, 0o600);
  const { privateKey, publicKey } = generateKeyPairSync("ed25519");
  const x = (publicKey.export({ format: "jwk" }) as { x: string }).x;
  const callersFile = join(root, "callers.json");
  writeFileSync(
    callersFile,
    JSON.stringify({
      callers: [
        {
          id: "order-exec",
          public_jwk: { kty: "OKP", crv: "Ed25519", x },
          keys: ["main"],
          endpoints: SIGNER_ENDPOINTS,
        },
      ],
    }),
    { mode: 0o644 },
  );

  const simOptions: SimOptions = {
    port: 0,
    seed: 11,
    markets: MARKETS,
    accounts: [
      {
        accessKey,
        secretKey,
        balances: options.simBalances ?? { KRW: "100000000000", BTC: "1000", ETH: "100000" },
      },
    ],
    ...options.sim,
  };
  let sim: Sim;
  let simWorker: ThreadHandle | undefined;
  if (options.simThread === true) {
    const w = startThread(new URL("./sim-worker.ts", import.meta.url), simOptions);
    cleanup.push(() => w.worker.terminate());
    const ready = (await w.from("ready")) as { restUrl: string; privateWsUrl: string };
    simWorker = w;
    sim = {
      restUrl: ready.restUrl,
      privateWsUrl: ready.privateWsUrl,
      stop: () => w.stop(),
    } as unknown as Sim;
  } else {
    sim = await startSim(simOptions);
  }
  const simRef = sim;
  cleanup.push(() => simRef.stop());
  const nats = await startNats();
  // A no-op for the run's shared server; stops the bench's own container.
  cleanup.push(() => nats.stop());
  const nc = await connectBus({ NATS_URL: nats.url }, { name: "order-exec-test", logger });
  cleanup.push(() => nc.drain());
  await ensureStreams(nc, subjects);
  const signerSettings = {
    keysDir,
    callersFile,
    jwtAlg: "HS512" as const,
    rotationGraceMs: 60_000,
    expiryWarnDays: 30,
    sessionTtlMs: 600_000,
    auditMaxInFlight: 4096,
    watchFiles: false,
  };
  let signer: Signer | undefined;
  let signerWorker: ThreadHandle | undefined;
  if (options.signerThread === true) {
    const w = startThread(new URL("./signer-worker.ts", import.meta.url), {
      natsUrl: nats.url,
      namespace: subjects.namespace,
      keysDir,
      callersFile,
    });
    cleanup.push(() => w.worker.terminate());
    await w.from("ready");
    signerWorker = w;
  } else {
    signer = buildSigner({ nc, subjects, logger, settings: signerSettings });
    await signer.start();
    const s = signer;
    cleanup.push(() => s.stop());
  }
  const stopSigner = async () => {
    if (signerWorker !== undefined) await signerWorker.stop();
    else await signer?.stop();
  };

  const client = createSignerClient({
    nc,
    subjects,
    callerId: "order-exec",
    privateJwk: privateKey,
  });
  await client.connect();

  const events: OrderEvent[] = [];
  const audits: AuditEvent[] = [];
  const spy = await connectBus({ NATS_URL: nats.url }, { name: "order-exec-spy", logger });
  cleanup.push(() => spy.drain());
  if (options.spy !== false) {
    spy.subscribe(subjects.orders.eventsAll, {
      callback: (_e, m) => {
        // Through the schema: order-exec builds these by hand (fast-encode.ts).
        events.push(OrderEvent.parse(JSON.parse(Buffer.from(m.data).toString("utf8"))));
      },
    });
    spy.subscribe(subjects.audit.all, {
      callback: (_e, m) => {
        const a = JSON.parse(Buffer.from(m.data).toString("utf8")) as AuditEvent;
        if (a.service === "order-exec") audits.push(AuditEvent.parse(a));
      },
    });
  }
  await spy.flush();

  const settings: OrderExecSettings = {
    restUrl: sim.restUrl,
    privateWsUrl: options.privateWs === true ? sim.privateWsUrl : undefined,
    accounts: { main: "main" },
    pocket: "p1",
    markets: MARKETS,
    maxOrdersPerS: 10_000,
    orderLimit: 12,
    governor: true,
    queueMs: 5_000,
    httpTimeoutMs: 2_000,
    absentAfterMs: 200,
    resolveMs: 30_000,
    lookupBaseMs: 20,
    ...options.settings,
  };
  const execs: OrderExec[] = [];
  const conns: NatsConnection[] = [];
  const replicaWorkers: ThreadHandle[] = [];
  if (options.replicaThreads === true)
    for (let i = 0; i < (options.replicas ?? 1); i++) {
      const w = startThread(new URL("./replica-worker.ts", import.meta.url), {
        natsUrl: nats.url,
        namespace: subjects.namespace,
        privateJwk: privateKey.export({ format: "jwk" }),
        settings,
        name: `order-exec-${i}`,
      });
      cleanup.push(() => w.worker.terminate());
      await w.from("ready");
      replicaWorkers.push(w);
    }
  let replicaNo = 0;
  const startReplica = async (overrides: Partial<OrderExecSettings> = {}): Promise<OrderExec> => {
    const i = replicaNo++;
    // Each replica on its own connection, as separate processes would be.
    const rc = await connectBus({ NATS_URL: nats.url }, { name: `order-exec-${i}`, logger });
    conns.push(rc);
    cleanup.push(() => rc.drain());
    // Its own signer client on its own connection, as main.ts wires it.
    const signerClient = createSignerClient({
      nc: rc,
      subjects,
      callerId: "order-exec",
      privateJwk: privateKey,
    });
    await signerClient.connect();
    const exec = buildOrderExec({
      nc: rc,
      subjects,
      logger: logger.child({ replica: i }),
      sign: (args) => signerClient.sign(args),
      settings: { ...settings, ...overrides },
    });
    cleanup.push(() => exec.stop());
    await exec.start();
    execs.push(exec);
    return exec;
  };
  for (let i = 0; i < (options.replicaThreads === true ? 0 : (options.replicas ?? 1)); i++)
    await startReplica();

  const control = await new Kvm(nc).open(subjects.buckets.control);
  return {
    nc,
    natsContainerId: nats.containerId,
    subjects,
    sim,
    signer,
    client,
    signerElu: async () => {
      if (signerWorker === undefined) return async () => ({ elu: 0, cpuUs: 0 });
      return signerWorker.use();
    },
    simElu: async () => {
      if (simWorker === undefined) return async () => ({ elu: 0, cpuUs: 0 });
      return simWorker.use();
    },
    replicaElu: async () => {
      const stops = replicaWorkers.map((w) => w.use());
      return () => Promise.all(stops.map((f) => f()));
    },
    execs,
    startReplica,
    accessKey,
    events,
    audits,
    place: (intent, timeoutMs = 10_000) =>
      request(nc, subjects.orders.place, OrderIntent, OrderReply, intent as OrderIntent, {
        timeoutMs,
      }),
    cancel: (req) =>
      request(nc, subjects.orders.cancel, CancelRequest, CancelReply, req as CancelRequest, {
        timeoutMs: 10_000,
      }),
    get: (ref) =>
      request(nc, subjects.orders.get, OrderRef, OrderStatus, ref as OrderRef, {
        timeoutMs: 10_000,
      }),
    raw: async (subject, body) => {
      const m = await nc.request(subject, body, { timeout: 5_000 });
      return {
        code: m.headers?.get("Upline-Error") || undefined,
        body: Buffer.from(m.data).toString("utf8"),
      };
    },
    setTrading: async (state) => {
      await control.put(
        subjects.controlTradingKey,
        JSON.stringify({
          state,
          reason: "test",
          actor: "test",
          updated_at: new Date().toISOString(),
        }),
      );
    },
    stop: async () => {
      for (const e of execs) await e.stop();
      for (const w of replicaWorkers) await w.stop();
      await stopSigner();
      for (const c of conns) await c.drain().catch(() => undefined);
      await spy.drain().catch(() => undefined);
      await nc.drain().catch(() => undefined);
      await nats.stop();
      await sim.stop();
      rmSync(root, { recursive: true, force: true });
    },
  };
}

let seq = 0;
/** A resting limit buy on KRW-BTC (the simulator's mid is 100,000,000; tick 1,000). */
export function limitBuy(
  id?: string,
  overrides: Record<string, unknown> = {},
): Record<string, unknown> {
  seq++;
  return {
    client_order_id: id ?? `t-${process.pid}-${Date.now().toString(36)}-${seq}`,
    ...limitBidFields,
    ...overrides,
  };
}
