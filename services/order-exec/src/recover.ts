/**
 * Restart recovery of stale claims: a replica that dies between claiming a
 * `client_order_id` (`pending`) and storing its outcome, or while it looks up
 * an `unknown` order, leaves the KV `order-ids` entry behind. On start and then
 * every `scanMs`, each replica scans the bucket for `pending`/`unknown` entries
 * not updated for `staleMs` (longer than any live replica leaves one), takes a
 * lease on each — a CAS update with the entry's revision that refreshes `at`,
 * so a lost race means another replica has it — and resolves it through
 * {@link Executor.recover}. A lease holder that dies lets the entry go stale
 * again, and a later scan takes it over.
 */
import type { KV } from "@nats-io/kv";
import type { Logger } from "@upline/shared";
import { type ClaimRecord, ClaimState } from "./claims.ts";
import type { Executor } from "./exec.ts";

export interface RecoveryOptions {
  readonly kv: KV;
  readonly executor: Executor;
  readonly logger: Logger;
  /** Identifies the lease holder in the KV value (diagnostics only). */
  readonly replica: string;
  readonly staleMs: number;
  readonly scanMs: number;
  readonly clock?: () => number;
}

export interface Recovery {
  /** One scan; resolves with the number of entries this replica leased. */
  readonly scan: () => Promise<number>;
  readonly start: () => void;
  /** Stops the timer and waits for a running scan (its lookups stop with the executor). */
  readonly stop: () => Promise<void>;
}

/** The inverse of `claimKey`: `<account>.<id with . → =2E and : → =3A>`. */
export function parseClaimKey(key: string): { account: string; clientOrderId: string } | undefined {
  const dot = key.indexOf(".");
  if (dot <= 0 || key.startsWith("_governor.")) return undefined;
  const account = key.slice(0, dot);
  const clientOrderId = key
    .slice(dot + 1)
    .replaceAll("=3A", ":")
    .replaceAll("=2E", ".");
  return clientOrderId === "" ? undefined : { account, clientOrderId };
}

export function createRecovery(o: RecoveryOptions): Recovery {
  const clock = o.clock ?? Date.now;
  const log = o.logger;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<number> | undefined;
  let stopped = false;

  const scanOnce = async (): Promise<number> => {
    const keys: string[] = [];
    for await (const k of await o.kv.keys()) if (parseClaimKey(k) !== undefined) keys.push(k);
    let leased = 0;
    for (const key of keys) {
      if (stopped) break;
      const id = parseClaimKey(key);
      if (id === undefined) continue;
      const e = await o.kv.get(key);
      if (e === null || e.operation !== "PUT") continue;
      let rec: ClaimRecord;
      try {
        rec = JSON.parse(Buffer.from(e.value).toString("utf8")) as ClaimRecord;
      } catch {
        continue;
      }
      if (rec.state !== ClaimState.Pending && rec.state !== ClaimState.Unknown) continue;
      if (typeof rec.at !== "number" || clock() - rec.at < o.staleMs) continue;
      try {
        await o.kv.update(
          key,
          JSON.stringify({ ...rec, at: clock(), lease: o.replica }),
          e.revision,
        );
      } catch {
        continue; // another replica leased it (or it was settled) first
      }
      leased++;
      log.warn(
        { account: id.account, client_order_id: id.clientOrderId, state: rec.state },
        "recovering a stale order claim",
      );
      try {
        const result = await o.executor.recover({
          account: id.account,
          clientOrderId: id.clientOrderId,
          market: rec.market,
          state: rec.state,
          at: rec.at,
        });
        log.info({ client_order_id: id.clientOrderId, result }, "stale order claim recovered");
      } catch (err) {
        log.error({ err, client_order_id: id.clientOrderId }, "recovery of a stale claim failed");
      }
    }
    return leased;
  };

  const scan = () => {
    running ??= scanOnce().finally(() => {
      running = undefined;
    });
    return running;
  };

  return {
    scan,
    start: () => {
      scan().catch((err: unknown) => log.error({ err }, "claim recovery scan failed"));
      timer = setInterval(() => {
        scan().catch((err: unknown) => log.error({ err }, "claim recovery scan failed"));
      }, o.scanMs);
      timer.unref();
    },
    stop: async () => {
      stopped = true;
      if (timer !== undefined) clearInterval(timer);
      await running?.catch(() => undefined);
    },
  };
}
