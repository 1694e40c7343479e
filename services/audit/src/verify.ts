/**
 * Verifying a stored audit log: walks every row in seq order with the pure
 * {@link ChainVerifier}, then checks every signed checkpoint against the hashes
 * recomputed from the rows. Used by `upline audit verify` and by tests.
 */
import { calculateJwkThumbprint, type JWK } from "jose";
import { type ChainBreak, type ChainHead, ChainVerifier } from "./chain.ts";
import { verifyCheckpoint } from "./checkpoint.ts";
import type { Sql } from "./db.ts";
import { readCheckpoints, readRows } from "./store.ts";

export const CheckpointProblem = {
  Signature: "checkpoint_signature",
  UnknownKey: "checkpoint_unknown_key",
  Mismatch: "checkpoint_mismatch",
  BeyondEnd: "checkpoint_beyond_end",
} as const;
export type CheckpointProblem = (typeof CheckpointProblem)[keyof typeof CheckpointProblem];

export interface CheckpointBreak {
  readonly seq: number;
  readonly problem: CheckpointProblem;
  readonly detail: string;
}

export interface VerifyReport {
  readonly ok: boolean;
  /** Rows walked. */
  readonly rows: number;
  /** The recomputed end of the chain. */
  readonly head: ChainHead;
  readonly checkpoints: number;
  /** The lowest seq at which anything is wrong (chain or checkpoint). */
  readonly firstBrokenSeq: number | undefined;
  readonly chainBreak: ChainBreak | undefined;
  readonly checkpointBreak: CheckpointBreak | undefined;
  /** False when checkpoints were checked only against keys stored in the same database. */
  readonly keyPinned: boolean;
}

export interface VerifyOptions {
  /** The checkpoint public key kept elsewhere; without it the stored keys are used. */
  readonly publicJwk?: JWK | undefined;
  readonly pageSize?: number;
  /** Called after each page with the rows walked so far and the last seq. */
  readonly onProgress?: (rows: number, lastSeq: number) => void;
}

export async function verifyStore(db: Sql, options: VerifyOptions = {}): Promise<VerifyReport> {
  const pageSize = options.pageSize ?? 5_000;
  const stored = await readCheckpoints(db);
  const pinnedKid = options.publicJwk
    ? await calculateJwkThumbprint({
        kty: options.publicJwk.kty,
        crv: options.publicJwk.crv,
        x: options.publicJwk.x,
      } as JWK)
    : undefined;

  let checkpointBreak: CheckpointBreak | undefined;
  const failCheckpoint = (b: CheckpointBreak) => {
    if (checkpointBreak === undefined || b.seq < checkpointBreak.seq) checkpointBreak = b;
  };
  // seq -> hash the checkpoint signed (from the verified payload, not the table column)
  const signed = new Map<number, string>();
  for (const cp of stored) {
    let key: JWK;
    if (options.publicJwk) {
      if (cp.kid !== pinnedKid) {
        failCheckpoint({
          seq: cp.seq,
          problem: CheckpointProblem.UnknownKey,
          detail: `signed by key ${cp.kid}, not the pinned key ${pinnedKid}`,
        });
        continue;
      }
      key = options.publicJwk;
    } else {
      key = cp.public_jwk as JWK;
    }
    try {
      const payload = await verifyCheckpoint(cp.jws, key);
      if (payload.seq !== cp.seq) throw new Error(`payload seq ${payload.seq} is not ${cp.seq}`);
      signed.set(payload.seq, payload.hash);
    } catch (err) {
      failCheckpoint({
        seq: cp.seq,
        problem: CheckpointProblem.Signature,
        detail: (err as Error).message,
      });
    }
  }

  const verifier = new ChainVerifier();
  let after = 0;
  for (;;) {
    const rows = await readRows(db, after, pageSize);
    if (rows.length === 0) break;
    for (const row of rows) {
      const recomputed = verifier.push(row);
      const want = signed.get(row.seq);
      if (want !== undefined && want !== recomputed) {
        failCheckpoint({
          seq: row.seq,
          problem: CheckpointProblem.Mismatch,
          detail: "the rows up to this seq do not hash to what the checkpoint signed",
        });
      }
    }
    after = rows[rows.length - 1]?.seq ?? after;
    options.onProgress?.(verifier.checked, after);
    if (rows.length < pageSize) break;
  }
  const head = verifier.head;
  for (const seq of signed.keys()) {
    if (seq > head.seq) {
      failCheckpoint({
        seq: head.seq + 1,
        problem: CheckpointProblem.BeyondEnd,
        detail: `a checkpoint signed seq ${seq} but the log ends at ${head.seq}: rows are missing`,
      });
    }
  }
  const chainBreak = verifier.firstBreak;
  const seqs = [chainBreak?.seq, checkpointBreak?.seq].filter((s) => s !== undefined);
  const firstBrokenSeq = seqs.length > 0 ? Math.min(...seqs) : undefined;
  return {
    ok: firstBrokenSeq === undefined,
    rows: verifier.checked,
    head,
    checkpoints: stored.length,
    firstBrokenSeq,
    chainBreak,
    checkpointBreak,
    keyPinned: options.publicJwk !== undefined,
  };
}
