/**
 * The audit store: appending a batch to the chain in one transaction, reading
 * rows back in seq order, checkpoints. SQL only; the chain itself is computed
 * by chain.ts in JavaScript.
 */
import {
  type ChainEvent,
  type ChainHead,
  type ChainRow,
  canonicalEvent,
  linkEvents,
} from "./chain.ts";
import type { Db, Sql } from "./db.ts";

export interface AppendResult {
  /** The rows stored by this call (events whose id was already stored are skipped). */
  readonly stored: readonly ChainRow[];
  readonly skipped: number;
  readonly head: ChainHead;
}

const ROW_COLUMNS =
  "seq, id::text AS id, ts, service, kind, outcome, trace_id, actor, data, prev_hash, hash";

/**
 * Appends events: drops events whose id is already stored (or repeated in the
 * batch), links the rest after the head, inserts them and moves the head, all
 * in one transaction that holds the head row locked. Safe to repeat after an
 * unknown outcome (a commit whose reply was lost): the repeat stores nothing
 * twice.
 *
 * `expected` is where the caller believes the chain ends (the writer keeps it
 * in memory). The batch is linked after it and written with one statement
 * ({@link tryAppend}) that checks the locked head first; when the head moved
 * (another replica wrote, or an earlier batch did not commit) the batch is
 * linked again after the real head. Without `expected` the head is read first.
 */
export async function appendEvents(
  db: Db,
  events: readonly ChainEvent[],
  canonicals?: readonly string[],
  expected?: ChainHead,
): Promise<AppendResult> {
  const { unique, uniqueCanon } = dedupe(events, canonicals);
  let guess = expected ?? (await readHead(db));
  // Optimistic first: a redelivered id is rare, and the unique index refuses
  // it anyway (the statement rolls back). Only then look ids up, under the lock.
  try {
    for (let attempt = 0; attempt < 8; attempt++) {
      const batch = linkBatch(guess, unique, uniqueCanon, events.length);
      const outcome = await tryAppend(db, batch);
      if (outcome.committed) return batch.result;
      guess = outcome.head;
    }
  } catch (err) {
    if (!isUniqueViolation(err)) throw err;
  }
  return appendLocked(db, unique, uniqueCanon, true, events.length);
}

const UNIQUE_VIOLATION = "23505";

/** True when `err` is PostgreSQL's unique violation (an event id already stored). */
export function isUniqueViolation(err: unknown): boolean {
  return (err as { code?: string } | undefined)?.code === UNIQUE_VIOLATION;
}

function dedupe(
  events: readonly ChainEvent[],
  canonicals: readonly string[] | undefined,
): { unique: ChainEvent[]; uniqueCanon: string[] } {
  const ids = new Set<string>();
  const unique: ChainEvent[] = [];
  const uniqueCanon: string[] = [];
  for (let i = 0; i < events.length; i++) {
    const e = events[i] as ChainEvent;
    const id = e.id.toLowerCase();
    if (ids.has(id)) continue;
    ids.add(id);
    unique.push(e);
    uniqueCanon.push(canonicals ? (canonicals[i] as string) : canonicalEvent(e));
  }
  return { unique, uniqueCanon };
}

/** A batch linked after an expected head, ready to be written by {@link tryAppend}. */
export interface LinkedBatch {
  /** The head the batch was linked after; the write only happens if the locked head still equals it. */
  readonly after: ChainHead;
  /** What the store returns once the batch is committed. */
  readonly result: AppendResult;
  /** The rows as the JSON array `jsonb_to_recordset` reads. */
  readonly payload: string;
}

/**
 * De-duplicates by id and links the events after `expected` (pure apart from
 * hashing): the CPU part of an append, done while the batch before commits.
 */
export function prepareBatch(
  expected: ChainHead,
  events: readonly ChainEvent[],
  canonicals?: readonly string[],
): LinkedBatch {
  const { unique, uniqueCanon } = dedupe(events, canonicals);
  return linkBatch(expected, unique, uniqueCanon, events.length);
}

function linkBatch(
  after: ChainHead,
  unique: readonly ChainEvent[],
  canonicals: readonly string[],
  received: number,
): LinkedBatch {
  const linked = linkEvents(after, unique, canonicals);
  return {
    after,
    result: { stored: linked.rows, skipped: received - unique.length, head: linked.head },
    payload: recordsetJson(linked.rows, canonicals),
  };
}

/**
 * The rows as a JSON array for `jsonb_to_recordset`, built from the canonical
 * JSON already computed for hashing: it holds exactly the event's columns
 * (absent trace_id/actor are left out and read back as NULL), so only seq,
 * prev_hash and hash are added. Saves stringifying every event a second time.
 */
function recordsetJson(rows: readonly ChainRow[], canonicals: readonly string[]): string {
  const parts = new Array<string>(rows.length);
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i] as ChainRow;
    const c = canonicals[i] as string;
    parts[i] =
      c.length > 2
        ? `{"seq":${r.seq},"prev_hash":"${r.prev_hash}","hash":"${r.hash}",${c.slice(1)}`
        : `{"seq":${r.seq},"prev_hash":"${r.prev_hash}","hash":"${r.hash}"}`;
  }
  return `[${parts.join(",")}]`;
}

const RECORDSET = `jsonb_to_recordset($1::jsonb) AS r(seq bigint, id uuid, ts timestamptz, service text,
       kind text, outcome text, trace_id text, actor text, data jsonb, prev_hash text, hash text)`;

/**
 * One statement, so one round trip and its own transaction: lock the head row;
 * only if it still equals `batch.after`, insert the rows and move the head.
 * Returns `committed: false` with the locked head when the head had moved
 * (nothing was written). Throws a unique violation (code 23505) when an id of
 * the batch is already stored; that rolls the whole statement back.
 */
export async function tryAppend(
  db: Db,
  batch: LinkedBatch,
): Promise<{ committed: true } | { committed: false; head: ChainHead }> {
  const { after, result } = batch;
  if (result.stored.length === 0) {
    const head = await readHead(db);
    return head.seq === after.seq && head.hash === after.hash
      ? { committed: true }
      : { committed: false, head };
  }
  const r = await db.statement<{ seq: number | string; hash: string; moved: boolean }>(
    // The head row is locked first (FOR UPDATE re-reads it if a concurrent
    // writer committed meanwhile); rows are inserted only if it is the head the
    // batch was linked after. A pipelined batch linked after the batch still
    // committing waits here for that commit and then goes through.
    `WITH head AS (
       SELECT seq, hash FROM audit_head WHERE one FOR UPDATE
     ), ok AS (
       SELECT 1 FROM head WHERE head.seq = $2 AND head.hash = $3
     ), ins AS (
       INSERT INTO audit_events (seq, id, ts, service, kind, outcome, trace_id, actor, data, prev_hash, hash)
       SELECT r.seq, r.id, r.ts, r.service, r.kind, r.outcome, r.trace_id, r.actor, r.data, r.prev_hash, r.hash
       FROM ok, ${RECORDSET}
     ), moved AS (
       UPDATE audit_head SET seq = $4, hash = $5 FROM ok WHERE audit_head.one
       RETURNING 1
     )
     SELECT head.seq, head.hash, EXISTS (SELECT 1 FROM moved) AS moved FROM head`,
    [batch.payload, after.seq, after.hash, result.head.seq, result.head.hash],
  );
  const h = r.rows[0];
  if (!h) throw new Error("audit_head is empty: the schema was not migrated");
  return h.moved
    ? { committed: true }
    : { committed: false, head: { seq: Number(h.seq), hash: h.hash } };
}

/** The careful path: explicit transaction, head locked first, stored ids looked up under the lock. */
function appendLocked(
  db: Db,
  unique: readonly ChainEvent[],
  canonicals: readonly string[],
  checkExisting: boolean,
  received: number,
): Promise<AppendResult> {
  return db.transaction(async (tx) => {
    const headRows = await tx.query<{ seq: number | string; hash: string }>(
      "SELECT seq, hash FROM audit_head WHERE one FOR UPDATE",
    );
    const h = headRows.rows[0];
    if (!h) throw new Error("audit_head is empty: the schema was not migrated");
    const head: ChainHead = { seq: Number(h.seq), hash: h.hash };
    if (unique.length === 0) return { stored: [], skipped: received, head };

    let fresh = unique;
    let freshCanon = canonicals;
    if (checkExisting) {
      const existing = await tx.query<{ id: string }>(
        "SELECT id::text AS id FROM audit_events WHERE id = ANY($1::uuid[])",
        [`{${unique.map((e) => e.id).join(",")}}`],
      );
      const known = new Set(existing.rows.map((r) => r.id));
      const keep = unique.map((e) => !known.has(e.id.toLowerCase()));
      fresh = unique.filter((_, i) => keep[i]);
      freshCanon = canonicals.filter((_, i) => keep[i]);
      if (fresh.length === 0) return { stored: [], skipped: received, head };
    }
    const linked = linkEvents(head, fresh, freshCanon);
    await tx.query(
      `INSERT INTO audit_events (seq, id, ts, service, kind, outcome, trace_id, actor, data, prev_hash, hash)
       SELECT seq, id, ts, service, kind, outcome, trace_id, actor, data, prev_hash, hash FROM ${RECORDSET}`,
      [recordsetJson(linked.rows, freshCanon)],
    );
    await tx.query("UPDATE audit_head SET seq = $1, hash = $2 WHERE one", [
      linked.head.seq,
      linked.head.hash,
    ]);
    return { stored: linked.rows, skipped: received - fresh.length, head: linked.head };
  });
}

/** One multi-row INSERT of already linked rows (the benchmark's baseline uses it too). */
export async function insertRows(
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

export async function readHead(db: Sql): Promise<ChainHead> {
  const r = await db.query<{ seq: number | string; hash: string }>(
    "SELECT seq, hash FROM audit_head WHERE one",
  );
  const h = r.rows[0];
  return h ? { seq: Number(h.seq), hash: h.hash } : { seq: 0, hash: "0".repeat(64) };
}

export async function countRows(db: Sql): Promise<number> {
  const r = await db.query<{ n: number | string }>("SELECT count(*) AS n FROM audit_events");
  return Number(r.rows[0]?.n ?? 0);
}

interface RawRow {
  seq: number | string;
  id: string;
  ts: Date | string;
  service: string;
  kind: string;
  outcome: string;
  trace_id: string | null;
  actor: string | null;
  data: Record<string, unknown> | string;
  prev_hash: string;
  hash: string;
}

export function toChainRow(r: RawRow): ChainRow {
  return {
    seq: Number(r.seq),
    id: r.id,
    ts: (r.ts instanceof Date ? r.ts : new Date(r.ts)).toISOString(),
    service: r.service,
    kind: r.kind,
    outcome: r.outcome,
    trace_id: r.trace_id ?? undefined,
    actor: r.actor ?? undefined,
    data: typeof r.data === "string" ? (JSON.parse(r.data) as Record<string, unknown>) : r.data,
    prev_hash: r.prev_hash,
    hash: r.hash,
  };
}

/** Rows with seq > `afterSeq`, in seq order. */
export async function readRows(db: Sql, afterSeq: number, limit: number): Promise<ChainRow[]> {
  const r = await db.query<RawRow>(
    `SELECT ${ROW_COLUMNS} FROM audit_events WHERE seq > $1 ORDER BY seq LIMIT $2`,
    [afterSeq, limit],
  );
  return r.rows.map(toChainRow);
}

/** A filter for `upline audit query` / `tail`; every field optional, all must hold. */
export interface EventFilter {
  readonly since?: string | undefined;
  readonly until?: string | undefined;
  readonly service?: string | undefined;
  readonly kind?: string | undefined;
  readonly traceId?: string | undefined;
  /** Matches `client_order_id` at any depth of `data`. */
  readonly clientOrderId?: string | undefined;
  readonly afterSeq?: number | undefined;
  readonly limit?: number | undefined;
}

export async function queryEvents(db: Sql, filter: EventFilter): Promise<ChainRow[]> {
  const where: string[] = [];
  const params: unknown[] = [];
  const p = (v: unknown) => {
    params.push(v);
    return `$${params.length}`;
  };
  if (filter.afterSeq !== undefined) where.push(`seq > ${p(filter.afterSeq)}`);
  if (filter.since) where.push(`ts >= ${p(filter.since)}::timestamptz`);
  if (filter.until) where.push(`ts < ${p(filter.until)}::timestamptz`);
  if (filter.service) where.push(`service = ${p(filter.service)}`);
  if (filter.kind) where.push(`kind = ${p(filter.kind)}`);
  if (filter.traceId) where.push(`trace_id = ${p(filter.traceId)}`);
  if (filter.clientOrderId) {
    const v = p(filter.clientOrderId);
    where.push(
      `(data->>'client_order_id' = ${v} OR jsonb_path_exists(data, '$.**.client_order_id ? (@ == $v)', jsonb_build_object('v', ${v}::text)))`,
    );
  }
  const limit = p(filter.limit ?? 1000);
  const r = await db.query<RawRow>(
    `SELECT ${ROW_COLUMNS} FROM audit_events ${where.length ? `WHERE ${where.join(" AND ")}` : ""} ORDER BY seq LIMIT ${limit}`,
    params,
  );
  return r.rows.map(toChainRow);
}

export interface StoredCheckpoint {
  readonly seq: number;
  readonly hash: string;
  readonly signed_at: string;
  readonly kid: string;
  readonly public_jwk: Record<string, unknown>;
  readonly jws: string;
}

export async function insertCheckpoint(db: Sql, cp: StoredCheckpoint): Promise<void> {
  await db.query(
    `INSERT INTO audit_checkpoints (seq, hash, signed_at, kid, public_jwk, jws)
     VALUES ($1, $2, $3::timestamptz, $4, $5::jsonb, $6) ON CONFLICT (seq) DO NOTHING`,
    [cp.seq, cp.hash, cp.signed_at, cp.kid, JSON.stringify(cp.public_jwk), cp.jws],
  );
}

export async function readCheckpoints(db: Sql): Promise<StoredCheckpoint[]> {
  const r = await db.query<{
    seq: number | string;
    hash: string;
    signed_at: Date | string;
    kid: string;
    public_jwk: Record<string, unknown> | string;
    jws: string;
  }>("SELECT seq, hash, signed_at, kid, public_jwk, jws FROM audit_checkpoints ORDER BY seq");
  return r.rows.map((c) => ({
    seq: Number(c.seq),
    hash: c.hash,
    signed_at: (c.signed_at instanceof Date ? c.signed_at : new Date(c.signed_at)).toISOString(),
    kid: c.kid,
    public_jwk:
      typeof c.public_jwk === "string"
        ? (JSON.parse(c.public_jwk) as Record<string, unknown>)
        : c.public_jwk,
    jws: c.jws,
  }));
}
