/**
 * The rate governor's shared state in NATS KV, so every order-exec replica
 * paces against one budget (Upbit counts per pocket, not per process). One key
 * per group, `_governor.<pocket>.<group>`, changed only with revision-checked
 * updates; the ban is `_governor.<pocket>.ban`, watched so every replica sees
 * it at once. Keys live in the `order-ids` bucket (a `_` prefix cannot clash
 * with an account id).
 */
import type { KV } from "@nats-io/kv";
import { UplineError } from "@upline/shared";
import { EMPTY_GROUP, type GovernorStore, type GroupState } from "@upline/upbit";
import { type FastKv, fastKvPut } from "./claims.ts";

interface Cached {
  readonly state: GroupState;
  /** 0: the key does not exist. */
  readonly revision: number;
}

export interface KvGovernorStore extends GovernorStore {
  readonly start: () => Promise<void>;
  readonly stop: () => void;
}

const enc = (v: unknown) => JSON.stringify(v);

function decodeState(data: Uint8Array): GroupState {
  try {
    const v = JSON.parse(Buffer.from(data).toString("utf8")) as Partial<GroupState>;
    return {
      windowStart: Number(v.windowStart) || 0,
      used: Number(v.used) || 0,
      blockedUntil: Number(v.blockedUntil) || 0,
      strikes: Number(v.strikes) || 0,
    };
  } catch {
    return EMPTY_GROUP;
  }
}

/**
 * `fast`: revision-checked writes through the acknowledged fast publisher
 * (the same create/update semantics as `kv.create` / `kv.update`, one
 * JetStream round trip without nats.js's per-request machinery).
 */
export function createKvGovernorStore(kv: KV, pocket: string, fast?: FastKv): KvGovernorStore {
  const prefix = `_governor.${pocket}`;
  const banKey = `${prefix}.ban`;
  const cache = new Map<string, Cached>();
  let ban = 0;
  let stopWatch: (() => void) | undefined;

  const load = async (group: string): Promise<Cached> => {
    const e = await kv.get(`${prefix}.${group}`);
    if (e === null || e.operation !== "PUT")
      return { state: EMPTY_GROUP, revision: e?.revision ?? 0 };
    return { state: decodeState(e.value), revision: e.revision };
  };

  const applyBan = (data: Uint8Array | undefined) => {
    if (data === undefined || data.length === 0) return;
    try {
      const until = Number(
        (JSON.parse(Buffer.from(data).toString("utf8")) as { until?: number }).until,
      );
      if (Number.isFinite(until)) ban = Math.max(ban, until);
    } catch {
      // An unreadable ban record: keep the one we know.
    }
  };

  const chains = new Map<string, Promise<void>>();
  const updateNow: GovernorStore["update"] = async (group, fn) => {
    const key = `${prefix}.${group}`;
    let lastErr: unknown;
    for (let attempt = 0; attempt < 50; attempt++) {
      const cur = cache.get(group) ?? (await load(group));
      const r = fn(cur.state);
      if (r.state === undefined) {
        cache.set(group, cur);
        return r.result;
      }
      try {
        const revision =
          fast !== undefined
            ? await fastKvPut(fast, key, enc(r.state), cur.revision)
            : cur.revision === 0
              ? await kv.create(key, enc(r.state))
              : await kv.update(key, enc(r.state), cur.revision);
        cache.set(group, { state: r.state, revision });
        return r.result;
      } catch (err) {
        // Another replica changed the group (or created it) first: read and decide again.
        lastErr = err;
        cache.delete(group);
        await new Promise((r) => setTimeout(r, Math.random() * Math.min(20, 2 ** attempt)));
      }
    }
    throw new UplineError(
      "UPBIT_RATE_LIMITED",
      `rate governor state for ${group} is contended or unavailable`,
      {
        cause: lastErr,
      },
    );
  };

  return {
    start: async () => {
      const w = await kv.watch({ key: banKey });
      stopWatch = () => w.stop();
      void (async () => {
        for await (const e of w) if (e.operation === "PUT") applyBan(e.value);
      })().catch(() => undefined);
      const first = await kv.get(banKey);
      if (first !== null && first.operation === "PUT") applyBan(first.value);
    },
    stop: () => stopWatch?.(),
    // Updates of one group run one after another inside this replica, so only
    // other replicas contend for the key; a lost race backs off with jitter.
    update: (group, fn) => {
      const prev = chains.get(group) ?? Promise.resolve();
      const run = prev.then(
        () => updateNow(group, fn),
        () => updateNow(group, fn),
      );
      chains.set(
        group,
        run.then(
          () => undefined,
          () => undefined,
        ),
      );
      return run;
    },
    bannedUntil: () => ban,
    setBan: async (untilMs) => {
      ban = Math.max(ban, untilMs);
      await kv.put(banKey, enc({ until: ban }));
    },
  };
}
