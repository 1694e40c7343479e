/**
 * Audit store throughput and latency (`pnpm bench`, suite "audit"):
 * - baselines: raw multi-row INSERT and raw COPY (500 rows per transaction) of the same
 *   rows into a copy of the table (same indexes, no trigger, chain computed beforehand);
 * - ours: a backlog in stream AUDIT drained by the service (fetch, validate, redact,
 *   hash chain, idempotency check, one transaction per batch, ack after commit);
 * - ours: publish→committed latency at 5,000 events/s offered;
 * - baseline: the same backlog drained from stream AUDIT by a bare pull consumer that
 *   only acks (no validation, no store): the transport's ceiling for the drain rows;
 * - the same two throughput figures into PGlite (file-backed).
 *
 * AUDIT_BENCH_PHASES (comma list of js, pg, lat, lite; default all) runs a subset;
 * AUDIT_BENCH_EVENTS (default 100000) sets the PostgreSQL backlog, PGlite's is half.
 * AUDIT_BENCH_PROFILE=<dir> writes a CPU profile (`<name>.cpuprofile`) and a sampling heap
 * profile (`<name>.heapprofile`) of each drain window there (profiling slows the drain).
 */

import { readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { Session } from "node:inspector/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PerformanceObserver, constants as perfConstants, performance } from "node:perf_hooks";
import {
  AckPolicy,
  DeliverPolicy,
  type JsMsg,
  jetstream,
  jetstreamManager,
} from "@nats-io/jetstream";
import { nanos } from "@nats-io/transport-node";
import {
  type AuditEvent,
  connectBus,
  createJsPublisher,
  createLogger,
  createSubjects,
  defaultStreamLimits,
  ensureStreams,
  uuidv7,
} from "@upline/shared";
import {
  type BenchRow,
  containerCpuMeter,
  cpuMeter,
  emitBench,
  percentile,
  rssMb,
  startNats,
  startPostgres,
  uniqueNamespace,
} from "@upline/testkit";
import {
  auditConfigSchema,
  buildAudit,
  type ChainEvent,
  type ChainRow,
  COPY_TARGET,
  canonicalEvent,
  copyRows,
  type Db,
  EMPTY_HEAD,
  generateSigningJwk,
  linkEvents,
  migrate,
  openDb,
  type Sql,
} from "../src/index.ts";

// AUDIT_BENCH_EVENTS scales both backlogs down for short runs (PGlite gets half).
const RECORDSET = `jsonb_to_recordset($1::jsonb) AS r(seq bigint, id uuid, ts timestamptz, service text,
       kind text, outcome text, trace_id text, actor text, data jsonb, prev_hash text, hash text)`;

/** The baseline: one multi-row INSERT of already linked rows (the store wrote batches this way before COPY). */
async function insertRows(
  tx: Sql,
  rows: readonly ChainRow[],
  table = "audit_events",
): Promise<void> {
  const payload = rows.map((r) => ({
    seq: r.seq,
    id: r.id,
    ts: r.ts,
    service: r.service,
    kind: r.kind,
    outcome: r.outcome,
    trace_id: r.trace_id ?? null,
    actor: r.actor ?? null,
    data: r.data,
    prev_hash: r.prev_hash,
    hash: r.hash,
  }));
  await tx.query(
    `INSERT INTO ${table} (seq, id, ts, service, kind, outcome, trace_id, actor, data, prev_hash, hash)
     SELECT seq, id, ts, service, kind, outcome, trace_id, actor, data, prev_hash, hash
     FROM ${RECORDSET}`,
    [JSON.stringify(payload)],
  );
}

const SUSTAINED = Number(process.env.AUDIT_BENCH_EVENTS ?? 100_000);
const PGLITE = Math.round(SUSTAINED / 2);
const OFFERED_RATE = 5_000;
const OFFERED_SECONDS = 5;
const PHASES = new Set(
  (process.env.AUDIT_BENCH_PHASES ?? "js,pg,lat,lite").split(",").map((p) => p.trim()),
);
const loadavg = () => readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");
/** Process CPU (user + system, every thread) per event, in µs. */
function cpuPerEvent(n: number): () => number {
  const start = process.cpuUsage();
  return () => {
    const u = process.cpuUsage(start);
    return Math.round(((u.user + u.system) / n) * 10) / 10;
  };
}
/** CPU of the main thread alone per event, in µs (the rest: V8 helper threads, pg, nats). */
function mainThreadCpuPerEvent(n: number): () => number {
  const start = process.threadCpuUsage();
  return () => {
    const u = process.threadCpuUsage(start);
    return Math.round(((u.user + u.system) / n) * 10) / 10;
  };
}

const nats = await startNats({ dedicated: true });
const postgres = await startPostgres({ dedicated: true });
const dir = await mkdtemp(join(tmpdir(), "upline-audit-bench-"));
const logger = createLogger({ service: "audit", level: "silent" });
const nc = await connectBus({ NATS_URL: nats.url }, { name: "audit-bench", logger });
// Acks collected on one inbox: the publisher is not what limits the figures.
const js = createJsPublisher(nc, { maxOutstanding: 1024, timeoutMs: 30_000 });

function makeEvents(n: number): AuditEvent[] {
  const t = Date.now();
  return Array.from({ length: n }, (_, i) => ({
    id: uuidv7(t + i),
    ts: new Date(t + i).toISOString(),
    service: "order-exec",
    kind: "order_placed",
    outcome: "ok",
    trace_id: "0123456789abcdef0123456789abcdef",
    data: {
      client_order_id: `bench-${i}`,
      market: "KRW-BTC",
      side: "bid",
      ord_type: "limit",
      price: "143250000",
      volume: "0.0012",
    },
  }));
}

/**
 * Raw writes of the same rows (chain computed beforehand) into a copy of the
 * table (same indexes, no trigger), 500 per transaction: multi-row INSERT, or
 * COPY (text format). Returns events/s and the server's CPU µs per row.
 */
async function baseline(
  db: Db,
  events: AuditEvent[],
  how: "insert" | "copy",
  containerId?: string,
): Promise<{ ops: number; dbUs: number | undefined }> {
  const table = `bench_raw_${how}`;
  await db.exec(`CREATE TABLE ${table} (LIKE audit_events INCLUDING DEFAULTS INCLUDING INDEXES)`);
  const { rows } = linkEvents(EMPTY_HEAD, events as ChainEvent[]);
  const canonicals = rows.map((r) => canonicalEvent(r));
  const target = COPY_TARGET.replace("audit_events", table);
  const dbCpu = containerCpuMeter(containerId);
  const t0 = performance.now();
  for (let i = 0; i < rows.length; i += 500) {
    const chunk = rows.slice(i, i + 500);
    if (how === "insert") await db.transaction((tx) => insertRows(tx, chunk, table));
    else {
      const text = copyRows(chunk, canonicals.slice(i, i + 500));
      await db.transaction((tx) => tx.copy(target, text));
    }
  }
  const ops = Math.round(rows.length / ((performance.now() - t0) / 1000));
  return { ops, dbUs: dbCpu(rows.length) };
}

/** Every event published and acknowledged, 1,024 awaiting their ack at most. */
async function publishAll(subject: string, events: AuditEvent[], inFlight = 1024): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (next < events.length) {
        const e = events[next++] as AuditEvent;
        await js.publish(subject, JSON.stringify(e), { msgId: e.id });
      }
    }),
  );
}

async function configFor(databaseUrl: string | undefined, name: string) {
  const keyFile = join(dir, `${name}.jwk`);
  const { writeFile } = await import("node:fs/promises");
  await writeFile(keyFile, JSON.stringify(await generateSigningJwk()), { mode: 0o600 });
  return auditConfigSchema.parse({
    ...(databaseUrl ? { DATABASE_URL: databaseUrl } : {}),
    AUDIT_DATA_DIR: join(dir, name),
    AUDIT_CHECKPOINT_KEY_FILE: keyFile,
    // knobs for trying batch sizes and delivery windows; unset: the service's defaults
    ...(process.env.AUDIT_BATCH_MAX ? { AUDIT_BATCH_MAX: process.env.AUDIT_BATCH_MAX } : {}),
    ...(process.env.AUDIT_MAX_ACK_PENDING
      ? { AUDIT_MAX_ACK_PENDING: process.env.AUDIT_MAX_ACK_PENDING }
      : {}),
  });
}

/** Main-thread GC pauses while it runs: `stop()` returns "scavenges n/ms, mark-compacts n/ms". */
function gcMeter(): () => string {
  const pauses = { minor: [0, 0], major: [0, 0] };
  const obs = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      const kind = (e as { detail?: { kind?: number } }).detail?.kind;
      const p = kind === perfConstants.NODE_PERFORMANCE_GC_MAJOR ? pauses.major : pauses.minor;
      p[0] = (p[0] ?? 0) + 1;
      p[1] = (p[1] ?? 0) + e.duration;
    }
  });
  obs.observe({ entryTypes: ["gc"] });
  return () => {
    obs.disconnect();
    const f = (p: number[]) => `${p[0]}/${Math.round(p[1] ?? 0)} ms`;
    return `GC pauses: minor ${f(pauses.minor)}, major ${f(pauses.major)}`;
  };
}

/** Starts the CPU and sampling heap profilers when AUDIT_BENCH_PROFILE names a directory. */
async function profileDrain(name: string): Promise<() => Promise<void>> {
  const out = process.env.AUDIT_BENCH_PROFILE;
  if (!out) return async () => undefined;
  const session = new Session();
  session.connect();
  await session.post("Profiler.enable");
  await session.post("Profiler.setSamplingInterval", { interval: 200 });
  await session.post("HeapProfiler.enable");
  await session.post("HeapProfiler.startSampling", {
    samplingInterval: 4096,
    includeObjectsCollectedByMajorGC: true,
    includeObjectsCollectedByMinorGC: true,
  });
  await session.post("Profiler.start");
  return async () => {
    const { profile } = await session.post("Profiler.stop");
    const { profile: heap } = await session.post("HeapProfiler.stopSampling");
    const { writeFile } = await import("node:fs/promises");
    await writeFile(join(out, `${name}.cpuprofile`), JSON.stringify(profile));
    await writeFile(join(out, `${name}.heapprofile`), JSON.stringify(heap));
    session.disconnect();
  };
}

/** Fills stream AUDIT with `events`, then measures how fast the service drains it. */
async function drain(databaseUrl: string | undefined, name: string, events: AuditEvent[]) {
  const subjects = createSubjects(uniqueNamespace("b"));
  await ensureStreams(nc, subjects, { ...defaultStreamLimits, AUDIT_MAX_BYTES: 2 * 1024 ** 3 });
  await publishAll(subjects.audit.event("order-exec", "order_placed"), events);
  let storedCount = 0;
  let commits = 0;
  let done: () => void = () => undefined;
  const finished = new Promise<void>((r) => {
    done = r;
  });
  const app = buildAudit({
    config: await configFor(databaseUrl, name),
    nc,
    subjects,
    logger,
    onStored: (rows) => {
      storedCount += rows.length;
      commits += 1;
      if (storedCount >= events.length) done();
    },
  });
  // Timed from when the service consumes: opening the store is not part of the
  // drain (PGlite's open + migrations alone took 1–8 s on the loaded machine).
  await app.start();
  const cpu = cpuMeter();
  const storedBefore = storedCount; // start() may already have stored a batch
  const commitsBefore = commits;
  const perEvent = cpuPerEvent(events.length - storedBefore);
  const mainPerEvent = mainThreadCpuPerEvent(events.length - storedBefore);
  const load = loadavg();
  const dbCpu = containerCpuMeter(databaseUrl ? postgres.containerId : undefined);
  const natsCpu = containerCpuMeter(nats.containerId);
  const stopProfile = await profileDrain(name);
  const gc = gcMeter();
  const elu0 = performance.eventLoopUtilization();
  const t0 = performance.now();
  await finished;
  const seconds = (performance.now() - t0) / 1000;
  const elu = performance.eventLoopUtilization(elu0).utilization;
  const gcPauses = gc();
  await stopProfile();
  const n = events.length - storedBefore;
  const result = {
    dbUs: dbCpu(n),
    natsUs: natsCpu(n),
    ops: Math.round((events.length - storedBefore) / seconds),
    cpu: cpu(),
    cpuUs: perEvent(),
    mainUs: mainPerEvent(),
    batch: Math.round((events.length - storedBefore) / Math.max(1, commits - commitsBefore)),
    rss: rssMb(),
    load: `${load} → ${loadavg()}`,
    elu: Math.round(elu * 100),
    gc: gcPauses,
  };
  await app.stop();
  return result;
}

/**
 * The transport's ceiling: the same backlog drained by a bare durable pull
 * consumer (explicit ack, as the service's; nats-server 2.9 refuses AckAll on a
 * work-queue stream) that acks every message, 500 at a time, and stores nothing.
 */
async function jsDrain(events: AuditEvent[]) {
  const subjects = createSubjects(uniqueNamespace("j"));
  await ensureStreams(nc, subjects, { ...defaultStreamLimits, AUDIT_MAX_BYTES: 2 * 1024 ** 3 });
  await publishAll(subjects.audit.event("order-exec", "order_placed"), events);
  const stream = subjects.streams.audit;
  const jsm = await jetstreamManager(nc);
  await jsm.consumers.add(stream, {
    durable_name: "raw",
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    max_ack_pending: 20_000,
    ack_wait: nanos(30_000),
  });
  const consumer = await jetstream(nc).consumers.get(stream, "raw");
  const msgs = await consumer.consume({ max_messages: 2_000 });
  const perEvent = cpuPerEvent(events.length);
  const load = loadavg();
  const t0 = performance.now();
  // Acked in groups of 500 in one synchronous loop, as the service acks a
  // committed batch: the client then writes the acks with one socket write.
  let n = 0;
  let held: JsMsg[] = [];
  for await (const m of msgs) {
    held.push(m);
    if (++n >= events.length || held.length >= 500) {
      for (const h of held) h.ack();
      held = [];
    }
    if (n >= events.length) break;
  }
  await nc.flush();
  const seconds = (performance.now() - t0) / 1000;
  return {
    ops: Math.round(events.length / seconds),
    cpuUs: perEvent(),
    load: `${load} → ${loadavg()}`,
  };
}

/** Offers events at a fixed rate with the service running; publish→committed per event. */
async function latency(databaseUrl: string) {
  const subjects = createSubjects(uniqueNamespace("l"));
  await ensureStreams(nc, subjects, defaultStreamLimits);
  const sentAt = new Map<string, number>();
  const samples: number[] = [];
  const total = OFFERED_RATE * OFFERED_SECONDS;
  let done: () => void = () => undefined;
  const finished = new Promise<void>((r) => {
    done = r;
  });
  const app = buildAudit({
    config: await configFor(databaseUrl, "latency"),
    nc,
    subjects,
    logger,
    onStored: (rows: readonly ChainRow[]) => {
      const now = performance.now();
      for (const r of rows) {
        const t = sentAt.get(r.id);
        if (t !== undefined) samples.push((now - t) * 1000);
      }
      if (samples.length >= total) done();
    },
  });
  await app.start();
  const load = loadavg();
  const events = makeEvents(total);
  const subject = subjects.audit.event("order-exec", "order_placed");
  const tickMs = 10;
  const perTick = (OFFERED_RATE * tickMs) / 1000;
  const t0 = performance.now();
  const acks: Promise<unknown>[] = [];
  for (let i = 0; i < total; i += perTick) {
    const due = t0 + (i / perTick) * tickMs;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait)); // pacing the offered load
    for (const e of events.slice(i, i + perTick)) {
      sentAt.set(e.id, performance.now());
      acks.push(js.publish(subject, JSON.stringify(e), { msgId: e.id }));
    }
  }
  await Promise.all(acks);
  await finished;
  await app.stop();
  const sorted = samples.sort((a, b) => a - b);
  return {
    p50: Math.round(percentile(sorted, 50)),
    p99: Math.round(percentile(sorted, 99)),
    load: `${load} → ${loadavg()}`,
  };
}

try {
  const rows: BenchRow[] = [];
  if (PHASES.has("js")) {
    const raw = await jsDrain(makeEvents(SUSTAINED));
    rows.push({
      suite: "audit",
      kind: "baseline",
      name: "JetStream raw drain of stream AUDIT: pull + ack each (500 per write), nothing stored",
      ops_per_s: raw.ops,
      notes: `${SUSTAINED} events; ${raw.cpuUs} µs CPU/event; load ${raw.load}`,
    });
  }
  if (PHASES.has("pg")) {
    const pgDb = await openDb({ url: postgres.url });
    await migrate(pgDb);
    const pgBase = await baseline(pgDb, makeEvents(SUSTAINED), "insert", postgres.containerId);
    const pgCopy = await baseline(pgDb, makeEvents(SUSTAINED), "copy", postgres.containerId);
    await pgDb.close();
    // each drain uses its own database so the table starts empty
    const pgOurs = await drain(await postgres.createDatabase("bench"), "pg", makeEvents(SUSTAINED));
    rows.push(
      {
        suite: "audit",
        kind: "baseline",
        name: "PostgreSQL raw multi-row INSERT, 500 rows/tx, same rows",
        ops_per_s: pgBase.ops,
        notes: `PostgreSQL ${pgBase.dbUs} µs CPU/row`,
      },
      {
        suite: "audit",
        kind: "baseline",
        name: "PostgreSQL raw COPY, 500 rows/tx, same rows",
        ops_per_s: pgCopy.ops,
        notes: `PostgreSQL ${pgCopy.dbUs} µs CPU/row`,
      },
      {
        suite: "audit",
        name: "audit store into PostgreSQL: JetStream backlog drained (chain + idempotency)",
        ops_per_s: pgOurs.ops,
        cpu_pct: pgOurs.cpu,
        rss_mb: pgOurs.rss,
        notes: `${SUSTAINED} events; ${pgOurs.cpuUs} µs CPU/event (main thread ${pgOurs.mainUs}), PostgreSQL ${pgOurs.dbUs}, nats-server ${pgOurs.natsUs}; ${pgOurs.batch} events/commit; event loop ${pgOurs.elu} % busy; ${pgOurs.gc}; load ${pgOurs.load}`,
      },
    );
  }
  if (PHASES.has("lat")) {
    const lat = await latency(await postgres.createDatabase("lat"));
    rows.push({
      suite: "audit",
      name: `publish→committed, ${OFFERED_RATE} events/s offered (PostgreSQL)`,
      ops_per_s: OFFERED_RATE,
      p50_us: lat.p50,
      p99_us: lat.p99,
      notes: `load ${lat.load}`,
    });
  }
  if (PHASES.has("lite")) {
    const liteBaseDb = await openDb({ dataDir: join(dir, "lite-baseline") });
    await migrate(liteBaseDb);
    const liteBase = await baseline(liteBaseDb, makeEvents(PGLITE), "insert");
    const liteCopy = await baseline(liteBaseDb, makeEvents(PGLITE), "copy");
    await liteBaseDb.close();
    const liteOurs = await drain(undefined, "lite", makeEvents(PGLITE));
    rows.push(
      {
        suite: "audit",
        kind: "baseline",
        name: "PGlite raw multi-row INSERT, 500 rows/tx, same rows",
        ops_per_s: liteBase.ops,
      },
      {
        suite: "audit",
        kind: "baseline",
        name: "PGlite raw COPY, 500 rows/tx, same rows",
        ops_per_s: liteCopy.ops,
      },
      {
        suite: "audit",
        name: "audit store into PGlite: JetStream backlog drained (chain + idempotency)",
        ops_per_s: liteOurs.ops,
        cpu_pct: liteOurs.cpu,
        rss_mb: liteOurs.rss,
        notes: `${PGLITE} events; ${liteOurs.cpuUs} µs CPU/event (main thread ${liteOurs.mainUs}), nats-server ${liteOurs.natsUs}; ${liteOurs.batch} events/commit; event loop ${liteOurs.elu} % busy; ${liteOurs.gc}; load ${liteOurs.load}`,
      },
    );
  }
  emitBench(rows);
} finally {
  await js.close();
  await nc.drain().catch(() => undefined);
  await Promise.allSettled([nats.stop(), postgres.stop()]);
  await rm(dir, { recursive: true, force: true });
}
