/**
 * Audit store throughput and latency (`pnpm bench`, suite "audit"):
 * - baseline: raw multi-row INSERT (500 rows per transaction) of the same rows into a
 *   copy of the table (same indexes, no trigger, chain computed beforehand);
 * - ours: a backlog in stream AUDIT drained by the service (fetch, validate, redact,
 *   hash chain, idempotency check, one transaction per batch, ack after commit);
 * - ours: publish→committed latency at 5,000 events/s offered;
 * - the same two throughput figures into PGlite (file-backed).
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
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
  type Db,
  EMPTY_HEAD,
  generateSigningJwk,
  insertRows,
  linkEvents,
  migrate,
  openDb,
} from "../src/index.ts";

const SUSTAINED = 100_000;
const PGLITE = 50_000;
const OFFERED_RATE = 5_000;
const OFFERED_SECONDS = 5;

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

async function baseline(db: Db, events: AuditEvent[]): Promise<number> {
  await db.exec("CREATE TABLE bench_raw (LIKE audit_events INCLUDING DEFAULTS INCLUDING INDEXES)");
  const { rows } = linkEvents(EMPTY_HEAD, events as ChainEvent[]);
  const t0 = performance.now();
  for (let i = 0; i < rows.length; i += 500) {
    const chunk = rows.slice(i, i + 500);
    await db.transaction((tx) => insertRows(tx, chunk, "bench_raw"));
  }
  return Math.round(rows.length / ((performance.now() - t0) / 1000));
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
  });
}

/** Fills stream AUDIT with `events`, then measures how fast the service drains it. */
async function drain(databaseUrl: string | undefined, name: string, events: AuditEvent[]) {
  const subjects = createSubjects(uniqueNamespace("b"));
  await ensureStreams(nc, subjects, { ...defaultStreamLimits, AUDIT_MAX_BYTES: 2 * 1024 ** 3 });
  await publishAll(subjects.audit.event("order-exec", "order_placed"), events);
  let storedCount = 0;
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
      if (storedCount >= events.length) done();
    },
  });
  // Timed from when the service consumes: opening the store is not part of the
  // drain (PGlite's open + migrations alone took 1–8 s on the loaded machine).
  await app.start();
  const cpu = cpuMeter();
  const t0 = performance.now();
  const storedBefore = storedCount; // start() may already have stored a batch
  await finished;
  const seconds = (performance.now() - t0) / 1000;
  const result = {
    ops: Math.round((events.length - storedBefore) / seconds),
    cpu: cpu(),
    rss: rssMb(),
  };
  await app.stop();
  return result;
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
  return { p50: Math.round(percentile(sorted, 50)), p99: Math.round(percentile(sorted, 99)) };
}

try {
  const pgDb = await openDb({ url: postgres.url });
  await migrate(pgDb);
  const pgBase = await baseline(pgDb, makeEvents(SUSTAINED));
  await pgDb.close();
  // each drain uses its own database so the table starts empty
  const pgUrl = await postgres.createDatabase("bench");
  const pgOurs = await drain(pgUrl, "pg", makeEvents(SUSTAINED));
  const lat = await latency(await postgres.createDatabase("lat"));

  const liteBaseDb = await openDb({ dataDir: join(dir, "lite-baseline") });
  await migrate(liteBaseDb);
  const liteBase = await baseline(liteBaseDb, makeEvents(PGLITE));
  await liteBaseDb.close();
  const liteOurs = await drain(undefined, "lite", makeEvents(PGLITE));

  emitBench([
    {
      suite: "audit",
      kind: "baseline",
      name: "PostgreSQL raw multi-row INSERT, 500 rows/tx, same rows",
      ops_per_s: pgBase,
    },
    {
      suite: "audit",
      name: "audit store into PostgreSQL: JetStream backlog drained (chain + idempotency)",
      ops_per_s: pgOurs.ops,
      cpu_pct: pgOurs.cpu,
      rss_mb: pgOurs.rss,
      notes: `${SUSTAINED} events`,
    },
    {
      suite: "audit",
      name: `publish→committed, ${OFFERED_RATE} events/s offered (PostgreSQL)`,
      ops_per_s: OFFERED_RATE,
      p50_us: lat.p50,
      p99_us: lat.p99,
    },
    {
      suite: "audit",
      kind: "baseline",
      name: "PGlite raw multi-row INSERT, 500 rows/tx, same rows",
      ops_per_s: liteBase,
    },
    {
      suite: "audit",
      name: "audit store into PGlite: JetStream backlog drained (chain + idempotency)",
      ops_per_s: liteOurs.ops,
      cpu_pct: liteOurs.cpu,
      rss_mb: liteOurs.rss,
      notes: `${PGLITE} events`,
    },
  ]);
} finally {
  await js.close();
  await nc.drain().catch(() => undefined);
  await Promise.allSettled([nats.stop(), postgres.stop()]);
  await rm(dir, { recursive: true, force: true });
}
