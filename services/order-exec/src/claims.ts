/**
 * Idempotency across replicas: a create-only entry in KV `order-ids` claims a
 * `client_order_id` (Upbit's `identifier`) before anything is sent, and later
 * holds the outcome, so a repeated intent — through any replica — answers with
 * the first one's result and never places a second order.
 */
import type { KV } from "@nats-io/kv";
import type { MsgHdrs } from "@nats-io/transport-node";
import { type JsPublisher, type OrderReply, UplineError } from "@upline/shared";

export const ClaimState = {
  Pending: "pending",
  Accepted: "accepted",
  Rejected: "rejected",
  Unknown: "unknown",
} as const;
export type ClaimState = (typeof ClaimState)[keyof typeof ClaimState];

export interface ClaimRecord {
  readonly state: ClaimState;
  /** When the claim was made / the request sent (epoch ms). */
  readonly at: number;
  readonly market: string;
  readonly reply?: OrderReply;
}

export type ClaimResult =
  | { readonly won: true; readonly revision: number }
  | { readonly won: false; readonly record: ClaimRecord | undefined; readonly revision: number };

export interface Claims {
  readonly claim: (
    account: string,
    clientOrderId: string,
    record: ClaimRecord,
  ) => Promise<ClaimResult>;
  readonly read: (
    account: string,
    clientOrderId: string,
  ) => Promise<{ record: ClaimRecord; revision: number } | undefined>;
  /** Stores the outcome (the claimer owns the entry). */
  readonly settle: (account: string, clientOrderId: string, record: ClaimRecord) => Promise<void>;
  /** Gives the id back: nothing was sent, so a retry with the same id may go ahead. */
  readonly release: (account: string, clientOrderId: string, revision: number) => Promise<void>;
  /** Waits until the entry leaves `pending` (or `timeoutMs` passes); the last record seen, undefined once released. */
  readonly waitSettled: (
    account: string,
    clientOrderId: string,
    timeoutMs: number,
  ) => Promise<ClaimRecord | undefined>;
}

const ESCAPED = /[.:]/;

/**
 * KV keys allow `[-/_=.a-zA-Z0-9]`, and `.` separates tokens. A client id may
 * hold `.` and `:`; they are escaped so that the mapping stays one-to-one.
 */
export function claimKey(account: string, clientOrderId: string): string {
  const id = ESCAPED.test(clientOrderId)
    ? clientOrderId.replaceAll(".", "=2E").replaceAll(":", "=3A")
    : clientOrderId;
  return `${account}.${id}`;
}

function decode(data: Uint8Array): ClaimRecord | undefined {
  try {
    return JSON.parse(Buffer.from(data).toString("utf8")) as ClaimRecord;
  } catch {
    return undefined;
  }
}

/** JetStream's "wrong last sequence" (10071; 10164 on newer servers when the last sequence is unknown). */
const WRONG_LAST_SEQUENCE = new Set([10071, 10164]);

export function isWrongLastSequence(err: unknown): boolean {
  return (
    err instanceof UplineError &&
    WRONG_LAST_SEQUENCE.has(Number((err.details as { err_code?: unknown } | undefined)?.err_code))
  );
}

/**
 * The hot-path writes without nats.js's per-request machinery: a KV put is a
 * JetStream publish to `$KV.<bucket>.<key>`, and a create-only put is the same
 * publish with `Nats-Expected-Last-Subject-Sequence: <last>` (0: no entry at
 * all) — exactly what `kv.create` / `kv.put` send, through the acknowledged
 * fast publisher (one inbox for every ack, no Error object per request).
 */
export interface FastKv {
  readonly publisher: JsPublisher;
  readonly bucket: string;
}

/**
 * The header block of a conditional put, encoded once (the create-only claim,
 * `expectedLast` 0, is the same bytes every time). It stands in for nats.js's
 * MsgHdrs the way packages/shared's EncodedHeaders does: nats.js only calls
 * `encode()` on the headers it publishes; no header map to build, validate and
 * encode per claim. The bytes are those of `headers()` with the one key set
 * (test/fast-encode.test.ts).
 */
class ExpectLastHeaders {
  readonly #bytes: Uint8Array;
  constructor(seq: number) {
    this.#bytes = Buffer.from(`NATS/1.0\r\nNats-Expected-Last-Subject-Sequence: ${seq}\r\n\r\n`);
  }
  encode(): Uint8Array {
    return this.#bytes;
  }
  toString(): string {
    return Buffer.from(this.#bytes).toString("utf8");
  }
}
const EXPECT_NO_ENTRY = new ExpectLastHeaders(0);

/** The conditional-put header block for `seq` (0: the key has no entry). */
export function expectLastHeaders(seq: number): MsgHdrs {
  if (!Number.isSafeInteger(seq) || seq < 0)
    throw new RangeError(`not a stream sequence: ${String(seq)}`);
  return (seq === 0 ? EXPECT_NO_ENTRY : new ExpectLastHeaders(seq)) as unknown as MsgHdrs;
}

/**
 * A KV put through the fast publisher; `expectedLast` makes it conditional
 * (0: only if the key has no entry; n: only if its last revision is n), and a
 * mismatch rejects with an error for which {@link isWrongLastSequence} holds.
 * Resolves with the new revision once JetStream stored it.
 */
export async function fastKvPut(
  fast: FastKv,
  key: string,
  body: string,
  expectedLast?: number,
): Promise<number> {
  const h = expectedLast === undefined ? undefined : expectLastHeaders(expectedLast);
  // Bytes, not a string: nats.js would run TextEncoder.encode (≈ 1 µs) on a
  // string payload; a pooled Buffer of the same UTF-8 costs ≈ 0.2 µs.
  const ack = await fast.publisher.publish(
    `$KV.${fast.bucket}.${key}`,
    Buffer.from(body),
    h === undefined ? {} : { headers: h },
  );
  return ack.seq;
}

export function createClaims(kv: KV, fast?: FastKv): Claims {
  const read: Claims["read"] = async (account, id) => {
    const e = await kv.get(claimKey(account, id));
    if (e === null || e.operation !== "PUT") return undefined;
    const record = decode(e.value);
    return record === undefined ? undefined : { record, revision: e.revision };
  };
  const put = async (key: string, body: string, expectedLast?: number): Promise<number> => {
    if (fast === undefined)
      return expectedLast === undefined
        ? kv.put(key, body)
        : expectedLast === 0
          ? kv.create(key, body)
          : kv.update(key, body, expectedLast);
    return fastKvPut(fast, key, body, expectedLast);
  };
  /** Create-only; a delete marker left by a release counts as free (as in `kv.create`). */
  const create = async (key: string, body: string): Promise<number> => {
    try {
      return await put(key, body, 0);
    } catch (err) {
      if (fast === undefined || !isWrongLastSequence(err)) throw err;
      const e = await kv.get(key);
      if (e === null || e.operation === "PUT") throw err;
      return put(key, body, e.revision);
    }
  };
  return {
    claim: async (account, id, record) => {
      const key = claimKey(account, id);
      try {
        const revision = await create(key, JSON.stringify(record));
        return { won: true, revision };
      } catch (err) {
        const existing = await read(account, id);
        if (existing === undefined) throw err;
        return { won: false, record: existing.record, revision: existing.revision };
      }
    },
    read,
    settle: async (account, id, record) => {
      await put(claimKey(account, id), JSON.stringify(record));
    },
    release: async (account, id, revision) => {
      await kv.delete(claimKey(account, id), { previousSeq: revision });
    },
    waitSettled: async (account, id, timeoutMs) => {
      const w = await kv.watch({ key: claimKey(account, id) });
      let last: ClaimRecord | undefined;
      const timer = setTimeout(() => w.stop(), timeoutMs);
      try {
        for await (const e of w) {
          if (e.operation !== "PUT") {
            // Released: nothing was sent; the caller may claim again.
            last = undefined;
            break;
          }
          last = decode(e.value);
          if (last !== undefined && last.state !== ClaimState.Pending) break;
        }
      } finally {
        clearTimeout(timer);
        w.stop();
      }
      return last;
    },
  };
}
