/**
 * The audit store: appending a batch to the chain in one transaction, reading
 * rows back in seq order, checkpoints. SQL only; the chain itself is computed
 * by chain.ts in JavaScript.
 */
import { type ChainEvent, type ChainHead, type ChainRow, linkEvents } from "./chain.ts";
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
 * Appends events in one transaction: locks the chain head, drops events whose
 * id is already stored (or repeated in the batch), links the rest after the
 * head, inserts them with one statement and moves the head. Safe to repeat
 * after an unknown outcome (a commit whose reply was lost): the repeat stores
 * nothing twice.
 */
export async function appendEvents(
  db: Db,
  events: readonly ChainEvent[],
  canonicals?: readonly string[],
): Promise<AppendResult> {
  const ids = new Set<string>();
  const unique: ChainEvent[] = [];
  const uniqueCanon: string[] = [];
  for (let i = 0; i < events.length; i++) {
    const e = events[i] as ChainEvent;
    const id = e.id.toLowerCase();
    if (ids.has(id)) continue;
    ids.add(id);
    unique.push(e);
    if (canonicals) uniqueCanon.push(canonicals[i] as string);
  }
  // Optimistic first: a redelivered id is rare, and the unique index refuses
  // it anyway (the whole transaction rolls back). Only then look ids up.
  try {
    return await appendOnce(db, unique, canonicals ? uniqueCanon : undefined, false, events.length);
  } catch (err) {
    if ((err as { code?: string }).code !== UNIQUE_VIOLATION) throw err;
    return appendOnce(db, unique, canonicals ? uniqueCanon : undefined, true, events.length);
  }
}

const UNIQUE_VIOLATION = "23505";

function appendOnce(
  db: Db,
  unique: readonly ChainEvent[],
  canonicals: readonly string[] | undefined,
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
      freshCanon = canonicals?.filter((_, i) => keep[i]);
      if (fresh.length === 0) return { stored: [], skipped: received, head };
    }
    const linked = linkEvents(head, fresh, freshCanon);
    await insertRows(tx, linked.rows);
    await tx.query("UPDATE audit_head SET seq = $1, hash = $2 WHERE one", [
      linked.head.seq,
      linked.head.hash,
    ]);
    return { stored: linked.rows, skipped: received - fresh.length, head: linked.head };
  });
}

/** One multi-row INSERT of already linked rows. */
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
     FROM jsonb_to_recordset($1::jsonb) AS r(seq bigint, id uuid, ts timestamptz, service text,
       kind text, outcome text, trace_id text, actor text, data jsonb, prev_hash text, hash text)`,
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
