/**
 * The audit hash chain, pure (no I/O). Both the service (when storing) and
 * `upline audit verify` (when checking) use these functions, so the two can
 * never disagree about what a hash covers.
 *
 * Canonical JSON (the bytes hashed for one event):
 * - objects: keys sorted by UTF-16 code units (JavaScript's default sort), no
 *   whitespace, keys whose value is `undefined` omitted;
 * - strings and numbers exactly as `JSON.stringify` writes them;
 * - arrays keep their order; `null`, `true`, `false` as in JSON.
 * The event object hashed is `{id, ts, service, kind, outcome, trace_id?, actor?, data}`
 * with `ts` in the ISO form `YYYY-MM-DDTHH:mm:ss.sssZ` and absent optional fields
 * omitted (never `null`).
 *
 * hash(n) = hex(SHA-256(utf8(prev_hash(n) + canonicalJson(event(n))))), with
 * prev_hash(1) = {@link GENESIS_HASH} and prev_hash(n) = hash(n-1).
 */
import { hash } from "node:crypto";

/** The `prev_hash` of the first row: 64 zeros. */
export const GENESIS_HASH = "0".repeat(64);

/** The stored form of one audit event, as hashed. */
export interface ChainEvent {
  readonly id: string;
  readonly ts: string;
  readonly service: string;
  readonly kind: string;
  readonly outcome: string;
  readonly trace_id?: string | undefined;
  readonly actor?: string | undefined;
  readonly data: Readonly<Record<string, unknown>>;
}

/** One stored row: the event plus its place in the chain. */
export interface ChainRow extends ChainEvent {
  readonly seq: number;
  readonly prev_hash: string;
  readonly hash: string;
}

/** Canonical JSON as defined above. Throws on values JSON cannot carry (functions, bigint, NaN). */
export function canonicalJson(value: unknown): string {
  // Loops and string appends rather than filter/sort/map/join: this runs for
  // every stored event and was the service's own top frame in the profile.
  if (value === null) return "null";
  switch (typeof value) {
    case "string":
      return JSON.stringify(value);
    case "boolean":
      return value ? "true" : "false";
    case "number":
      if (!Number.isFinite(value)) throw new TypeError("canonical JSON: non-finite number");
      return JSON.stringify(value);
    case "object": {
      if (Array.isArray(value)) {
        let out = "[";
        for (let i = 0; i < value.length; i++) {
          const v: unknown = value[i];
          if (i > 0) out += ",";
          out += v === undefined ? "null" : canonicalJson(v);
        }
        return `${out}]`;
      }
      const obj = value as Record<string, unknown>;
      const keys = Object.keys(obj);
      const sorted = ascending(keys);
      if (!sorted) sortKeys(keys);
      // A flat object (every value a string, a finite number, a boolean, null or
      // undefined): one native JSON.stringify writes exactly this form
      // (undefined left out, strings and numbers as JSON.stringify writes them)
      // when it meets the keys in sorted order. Plain objects only: a Date or
      // class instance could bring its own toJSON.
      const proto = Object.getPrototypeOf(obj);
      if ((proto === Object.prototype || proto === null) && flat(obj, keys)) {
        // Own keys already in sorted order: JSON.stringify enumerates them in
        // that same order (the cheapest case, no allow-list).
        if (sorted) return JSON.stringify(obj);
        // Otherwise a copy made in sorted order, which JSON.stringify writes
        // faster than the original with the sorted keys as its allow-list.
        // Not for integer-like keys (an object lists those first, in numeric
        // order) or `__proto__` (assigning it would set the prototype).
        const copy = sortedCopy(obj, keys);
        return copy === undefined ? JSON.stringify(obj, keys) : JSON.stringify(copy);
      }
      let out = "{";
      for (let i = 0; i < keys.length; i++) {
        const k = keys[i] as string;
        const v = obj[k];
        if (v === undefined) continue;
        if (out.length > 1) out += ",";
        out += `${JSON.stringify(k)}:${canonicalJson(v)}`;
      }
      return `${out}}`;
    }
    default:
      throw new TypeError(`canonical JSON: cannot encode a ${typeof value}`);
  }
}

/** True when every value of `obj` under `keys` is a JSON scalar that needs no recursion. */
function flat(obj: Record<string, unknown>, keys: readonly string[]): boolean {
  for (let i = 0; i < keys.length; i++) {
    const v = obj[keys[i] as string];
    switch (typeof v) {
      case "string":
      case "boolean":
      case "undefined":
        continue;
      case "number":
        if (Number.isFinite(v)) continue;
        return false;
      case "object":
        if (v === null) continue;
        return false;
      default:
        return false;
    }
  }
  return true;
}

/**
 * Sorts `keys` in place by UTF-16 code units, as `Array.prototype.sort` does for
 * strings: insertion sort for the short lists objects have (no work array),
 * the built-in sort for long ones.
 */
function sortKeys(keys: string[]): void {
  if (keys.length > 24) {
    keys.sort();
    return;
  }
  for (let i = 1; i < keys.length; i++) {
    const k = keys[i] as string;
    let j = i - 1;
    while (j >= 0 && (keys[j] as string) > k) {
      keys[j + 1] = keys[j] as string;
      j--;
    }
    keys[j + 1] = k;
  }
}

/**
 * A plain object with `obj`'s values under `keys` added in that (sorted)
 * order, so its own keys enumerate in it; undefined when a key is integer-like
 * (first character a digit: such keys enumerate first, in numeric order) or
 * `__proto__`.
 */
function sortedCopy(
  obj: Record<string, unknown>,
  keys: readonly string[],
): Record<string, unknown> | undefined {
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i] as string;
    const c = k.charCodeAt(0);
    if ((c >= 0x30 && c <= 0x39) || k === "__proto__") return undefined;
  }
  const copy: Record<string, unknown> = {};
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i] as string;
    copy[k] = obj[k];
  }
  return copy;
}

/** True when `keys` are already in the order `Array.prototype.sort` would give (UTF-16 code units). */
function ascending(keys: readonly string[]): boolean {
  for (let i = 1; i < keys.length; i++)
    if ((keys[i - 1] as string) > (keys[i] as string)) return false;
  return true;
}

/** The object whose canonical JSON is hashed (optional fields omitted when absent). */
export function hashedForm(event: ChainEvent): Record<string, unknown> {
  const out: Record<string, unknown> = {
    id: event.id,
    ts: event.ts,
    service: event.service,
    kind: event.kind,
    outcome: event.outcome,
    data: event.data,
  };
  if (event.trace_id !== undefined && event.trace_id !== null) out.trace_id = event.trace_id;
  if (event.actor !== undefined && event.actor !== null) out.actor = event.actor;
  return out;
}

/**
 * The canonical JSON of an event's hashed form (computable ahead of linking).
 * Equal to `canonicalJson(hashedForm(event))` (a test holds them together),
 * written out with the top-level keys in their sorted order
 * (actor, data, id, kind, outcome, service, trace_id, ts) so no object is built
 * and no key list sorted per event.
 */
export function canonicalEvent(
  event: ChainEvent,
  /** `canonicalJson(event.data)`, when already computed (the store writes it as the data column). */
  dataJson?: string,
): string {
  const { data, id, kind, outcome, service, ts } = event;
  if (
    data === undefined ||
    id === undefined ||
    kind === undefined ||
    outcome === undefined ||
    service === undefined ||
    ts === undefined
  ) {
    return canonicalJson(hashedForm(event)); // not a well-formed event: the general path
  }
  let out = "{";
  if (event.actor !== undefined && event.actor !== null) {
    out += `"actor":${canonicalJson(event.actor)},`;
  }
  out +=
    `"data":${dataJson || canonicalJson(data)},"id":${canonicalJson(id)}` +
    `,"kind":${canonicalJson(kind)},"outcome":${canonicalJson(outcome)}` +
    `,"service":${canonicalJson(service)}`;
  if (event.trace_id !== undefined && event.trace_id !== null) {
    out += `,"trace_id":${canonicalJson(event.trace_id)}`;
  }
  return `${out},"ts":${canonicalJson(ts)}}`;
}

export function hashEvent(prevHash: string, event: ChainEvent, canonical?: string): string {
  // One-shot hash: cheaper than createHash().update().update().digest() per event.
  return hash("sha256", prevHash + (canonical ?? canonicalEvent(event)), "hex");
}

/** The end of the chain: the last seq and its hash (seq 0 = empty). */
export interface ChainHead {
  readonly seq: number;
  readonly hash: string;
}

export const EMPTY_HEAD: ChainHead = Object.freeze({ seq: 0, hash: GENESIS_HASH });

/** Links events after `head`: returns the rows to store and the new head. */
export function linkEvents(
  head: ChainHead,
  events: readonly ChainEvent[],
  /** `canonicalEvent(events[i])`, when already computed. */
  canonicals?: readonly string[],
): { rows: ChainRow[]; head: ChainHead } {
  const rows: ChainRow[] = [];
  let { seq, hash } = head;
  for (let i = 0; i < events.length; i++) {
    const event = events[i] as ChainEvent;
    const next = hashEvent(hash, event, canonicals?.[i]);
    seq += 1;
    rows.push({ ...event, seq, prev_hash: hash, hash: next });
    hash = next;
  }
  return { rows, head: { seq, hash } };
}

export const ChainProblem = {
  SeqGap: "seq_gap",
  PrevHashMismatch: "prev_hash_mismatch",
  HashMismatch: "hash_mismatch",
} as const;
export type ChainProblem = (typeof ChainProblem)[keyof typeof ChainProblem];

export interface ChainBreak {
  readonly seq: number;
  readonly problem: ChainProblem;
  readonly detail: string;
}

/**
 * Checks rows one by one in seq order; remembers the first break and keeps the
 * recomputed hash of every row so checkpoints can be compared afterwards.
 */
export class ChainVerifier {
  #expected: ChainHead;
  #firstBreak: ChainBreak | undefined;
  #count = 0;

  constructor(start: ChainHead = EMPTY_HEAD) {
    this.#expected = start;
  }

  /** Checks the next row; returns the hash recomputed from the row's content. */
  push(row: ChainRow): string {
    this.#count += 1;
    const wantSeq = this.#expected.seq + 1;
    if (row.seq !== wantSeq) {
      this.#fail(row.seq, ChainProblem.SeqGap, `expected seq ${wantSeq}, found ${row.seq}`);
    } else if (row.prev_hash !== this.#expected.hash) {
      this.#fail(
        row.seq,
        ChainProblem.PrevHashMismatch,
        "prev_hash is not the previous row's hash",
      );
    }
    const recomputed = hashEvent(this.#expected.hash, row);
    if (recomputed !== row.hash) {
      this.#fail(row.seq, ChainProblem.HashMismatch, "the row's content does not match its hash");
    }
    // Continue from the recomputed hash: every row after a changed one is
    // reported through the first break only.
    this.#expected = { seq: row.seq, hash: recomputed };
    return recomputed;
  }

  #fail(seq: number, problem: ChainProblem, detail: string): void {
    this.#firstBreak ??= { seq, problem, detail };
  }

  get head(): ChainHead {
    return this.#expected;
  }

  get checked(): number {
    return this.#count;
  }

  get firstBreak(): ChainBreak | undefined {
    return this.#firstBreak;
  }
}
