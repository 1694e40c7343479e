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
  canonicalJson,
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
 * batch), links the rest after the head, writes them with COPY and moves the
 * head, all in one transaction that holds the head row locked. Safe to repeat after an
 * unknown outcome (a commit whose reply was lost): the repeat stores nothing
 * twice.
 *
 * `expected` is where the caller believes the chain ends (the writer keeps it
 * in memory). The batch is linked after it and written with one simple query
 * ({@link tryAppend}: head check and move, then COPY) that checks the locked head first; when the head moved
 * (another replica wrote, or an earlier batch did not commit) the batch is
 * linked again after the real head. Without `expected` the head is read first.
 */
export async function appendEvents(
  db: Db,
  events: readonly ChainEvent[],
  canonicals?: readonly string[],
  expected?: ChainHead,
  /** `canonicalJson(events[i].data)`, when already computed. */
  datas?: readonly string[],
): Promise<AppendResult> {
  const { unique, uniqueCanon, uniqueData } = dedupe(events, canonicals, datas);
  let guess = expected ?? (await readHead(db));
  // Optimistic first: a redelivered id is rare, and the unique index refuses
  // it anyway (COPY fails, the transaction rolls back). Only then look ids up,
  // under the lock (COPY has no ON CONFLICT).
  try {
    for (let attempt = 0; attempt < 8; attempt++) {
      const batch = linkBatch(guess, unique, uniqueCanon, uniqueData, events.length);
      const outcome = await tryAppend(db, batch);
      if (outcome.committed) return batch.result;
      guess = outcome.head;
    }
  } catch (err) {
    if (!isUniqueViolation(err)) throw err;
  }
  return appendLocked(db, unique, uniqueCanon, uniqueData, events.length);
}

const UNIQUE_VIOLATION = "23505";

/** True when `err` is PostgreSQL's unique violation (an event id already stored). */
export function isUniqueViolation(err: unknown): boolean {
  return (err as { code?: string } | undefined)?.code === UNIQUE_VIOLATION;
}

function dedupe(
  events: readonly ChainEvent[],
  canonicals: readonly string[] | undefined,
  datas: readonly string[] | undefined,
): { unique: ChainEvent[]; uniqueCanon: string[]; uniqueData: string[] } {
  const ids = new Set<string>();
  const unique: ChainEvent[] = [];
  const uniqueCanon: string[] = [];
  const uniqueData: string[] = [];
  for (let i = 0; i < events.length; i++) {
    const e = events[i] as ChainEvent;
    const id = e.id.toLowerCase();
    if (ids.has(id)) continue;
    ids.add(id);
    unique.push(e);
    const data = datas?.[i] || canonicalJson(e.data); // "" is never an object's JSON
    uniqueData.push(data);
    uniqueCanon.push(canonicals?.[i] || canonicalEvent(e, data)); // "" is never an event's JSON
  }
  return { unique, uniqueCanon, uniqueData };
}

/** A batch linked after an expected head, ready to be written by {@link tryAppend}. */
export interface LinkedBatch {
  /** The head the batch was linked after; the write only happens if the locked head still equals it. */
  readonly after: ChainHead;
  /** What the store returns once the batch is committed. */
  readonly result: AppendResult;
  /** The rows in COPY's text format, as UTF-8 bytes. */
  readonly copy: Buffer;
}

/**
 * De-duplicates by id and links the events after `expected` (pure apart from
 * hashing): the CPU part of an append, done while the batch before commits.
 */
export function prepareBatch(
  expected: ChainHead,
  events: readonly ChainEvent[],
  canonicals?: readonly string[],
  /** `canonicalJson(events[i].data)`, when already computed. */
  datas?: readonly string[],
): LinkedBatch {
  const { unique, uniqueCanon, uniqueData } = dedupe(events, canonicals, datas);
  return linkBatch(expected, unique, uniqueCanon, uniqueData, events.length);
}

function linkBatch(
  after: ChainHead,
  unique: readonly ChainEvent[],
  canonicals: readonly string[],
  datas: readonly string[],
  received: number,
): LinkedBatch {
  const linked = linkEvents(after, unique, canonicals);
  return {
    after,
    result: { stored: linked.rows, skipped: received - unique.length, head: linked.head },
    copy: copyRowsBytes(linked.rows, datas),
  };
}

/** The columns COPY writes, in the order of {@link copyRows}' fields (stored_at: its default). */
export const COPY_TARGET =
  "audit_events (seq, id, ts, service, kind, outcome, trace_id, actor, data, prev_hash, hash)";

/**
 * The rows in COPY's text format: one line per row, tab between columns, `\N`
 * for NULL, and backslash, tab, newline and carriage return escaped with a
 * backslash. `datas[i]` is `canonicalJson(rows[i].data)` when already computed
 * for hashing (the data column then costs no second stringify).
 */
export function copyRows(rows: readonly ChainRow[], datas?: readonly string[]): string {
  let out = "";
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i] as ChainRow;
    const data = datas?.[i] || canonicalJson(r.data); // "" is never an object's JSON
    out +=
      `${r.seq}\t${copyText(r.id)}\t${copyText(r.ts)}\t${copyText(r.service)}` +
      `\t${copyText(r.kind)}\t${copyText(r.outcome)}` +
      `\t${r.trace_id === undefined || r.trace_id === null ? "\\N" : copyText(r.trace_id)}` +
      `\t${r.actor === undefined || r.actor === null ? "\\N" : copyText(r.actor)}` +
      `\t${copyText(data)}\t${r.prev_hash}\t${r.hash}\n`;
  }
  return out;
}

/**
 * {@link copyRows}' text as UTF-8 bytes, written piece by piece into one
 * buffer: no string of the whole batch is built and then encoded (that string,
 * its pieces and its flattened copy were a tenth of the writer's allocation).
 */
export function copyRowsBytes(rows: readonly ChainRow[], datas?: readonly string[]): Buffer {
  const out: ByteSink = { buf: Buffer.allocUnsafe(Math.max(1024, rows.length * 640)), at: 0 };
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i] as ChainRow;
    const data = datas?.[i] || canonicalJson(r.data); // "" is never an object's JSON
    put(
      out,
      `${r.seq}\t${copyText(r.id)}\t${copyText(r.ts)}\t${copyText(r.service)}` +
        `\t${copyText(r.kind)}\t${copyText(r.outcome)}` +
        `\t${r.trace_id === undefined || r.trace_id === null ? "\\N" : copyText(r.trace_id)}` +
        `\t${r.actor === undefined || r.actor === null ? "\\N" : copyText(r.actor)}\t`,
    );
    put(out, copyText(data));
    put(out, `\t${r.prev_hash}\t${r.hash}\n`);
  }
  return out.buf.subarray(0, out.at);
}

interface ByteSink {
  buf: Buffer;
  at: number;
}

/** Appends `s` as UTF-8, growing the buffer first when `s` might not fit (3 bytes per UTF-16 unit at most). */
function put(out: ByteSink, s: string): void {
  const need = s.length * 3;
  if (out.buf.length - out.at < need) {
    const bigger = Buffer.allocUnsafe(Math.max(out.buf.length * 2, out.at + need));
    out.buf.copy(bigger, 0, 0, out.at);
    out.buf = bigger;
  }
  out.at += out.buf.write(s, out.at);
}

const COPY_SPECIAL = /[\\\t\n\r]/;
const COPY_SPECIAL_ALL = /[\\\t\n\r]/g;
const COPY_ESCAPES: Readonly<Record<string, string>> = {
  "\\": "\\\\",
  "\t": "\\t",
  "\n": "\\n",
  "\r": "\\r",
};

/** A value as COPY's text format reads it back unchanged. */
function copyText(v: string): string {
  return COPY_SPECIAL.test(v) ? v.replace(COPY_SPECIAL_ALL, (c) => COPY_ESCAPES[c] as string) : v;
}

/** SQLSTATE raised when the locked head is not the one a batch was linked after. */
export const HEAD_MOVED = "UA001";

const HASH = /^[0-9a-f]{64}$/;

/** Locks the head row and moves it from `from` to `to`; raises HEAD_MOVED if it is not at `from`. */
function moveHeadSql(from: ChainHead, to: ChainHead): string {
  // Literals, not parameters (a simple query has none): integers and hex only.
  for (const h of [from, to]) {
    if (!Number.isSafeInteger(h.seq) || h.seq < 0 || !HASH.test(h.hash)) {
      throw new RangeError(`bad chain head ${h.seq}`);
    }
  }
  // The lock is taken on `one` alone: an UPDATE … WHERE seq = … would skip the
  // row (its snapshot still shows the old head) instead of waiting for the
  // writer that is moving it. FOR UPDATE then returns the newest version.
  return `DO $$DECLARE s bigint; h text;
BEGIN
  SELECT seq, hash INTO s, h FROM audit_head WHERE one FOR UPDATE;
  IF s IS DISTINCT FROM ${from.seq} OR h IS DISTINCT FROM '${from.hash}' THEN
    RAISE EXCEPTION 'audit: the chain head moved' USING ERRCODE = '${HEAD_MOVED}';
  END IF;
  UPDATE audit_head SET seq = ${to.seq}, hash = '${to.hash}' WHERE one;
END$$`;
}

/**
 * One simple query, so one round trip and its own transaction: move the head
 * row from `batch.after` to the batch's head (locked first, and re-read if a
 * concurrent writer committed meanwhile: a pipelined batch linked after the
 * batch still committing waits here for that commit and then goes through),
 * then COPY the rows. The head is locked before any row is written, so writers
 * never wait on each other's rows while holding it (no deadlock). Returns
 * `committed: false` with the real head when the head had moved (nothing was
 * written). Throws a unique violation (code 23505) when an id of the batch is
 * already stored; that rolls the whole transaction back. `order` keeps a
 * pipelined batch from reaching the lock before the batch sent ahead of it.
 */
export async function tryAppend(
  db: Db,
  batch: LinkedBatch,
  order: {
    /** Sent only once this settles: the batch before holds the head lock (or is done). */
    readonly behind?: Promise<unknown>;
    /** Called once this batch holds the head lock (or is done). */
    readonly locked?: () => void;
  } = {},
): Promise<{ committed: true } | { committed: false; head: ChainHead }> {
  const { after, result } = batch;
  if (order.behind) await order.behind;
  if (result.stored.length === 0) {
    const head = await readHead(db);
    return head.seq === after.seq && head.hash === after.hash
      ? { committed: true }
      : { committed: false, head };
  }
  try {
    await db.copyScript(moveHeadSql(after, result.head), COPY_TARGET, batch.copy, order.locked);
    return { committed: true };
  } catch (err) {
    if ((err as { code?: string } | undefined)?.code !== HEAD_MOVED) throw err;
  }
  return { committed: false, head: await readHead(db) };
}

/** The careful path: explicit transaction, head locked first, stored ids looked up under the lock. */
function appendLocked(
  db: Db,
  unique: readonly ChainEvent[],
  canonicals: readonly string[],
  datas: readonly string[],
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

    // One indexed lookup for the whole batch, under the head lock: only the
    // ids not stored yet are linked and copied.
    const existing = await tx.query<{ id: string }>(
      "SELECT id::text AS id FROM audit_events WHERE id = ANY($1::uuid[])",
      [`{${unique.map((e) => e.id).join(",")}}`],
    );
    const known = new Set(existing.rows.map((r) => r.id));
    const keep = unique.map((e) => !known.has(e.id.toLowerCase()));
    const fresh = unique.filter((_, i) => keep[i]);
    const freshCanon = canonicals.filter((_, i) => keep[i]);
    const freshData = datas.filter((_, i) => keep[i]);
    if (fresh.length === 0) return { stored: [], skipped: received, head };
    const linked = linkEvents(head, fresh, freshCanon);
    await tx.copy(COPY_TARGET, copyRowsBytes(linked.rows, freshData));
    await tx.query("UPDATE audit_head SET seq = $1, hash = $2 WHERE one", [
      linked.head.seq,
      linked.head.hash,
    ]);
    return { stored: linked.rows, skipped: received - fresh.length, head: linked.head };
  });
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
