/**
 * The rate governor: one per process, sharing group state with every other
 * replica through a {@link GovernorStore} (in memory for one process, NATS KV
 * with revision-checked updates across replicas — see services/order-exec).
 * Requests of a group queue locally in arrival order; only the head of each
 * queue asks the store, so waiting requests cost nothing.
 */
import { UpbitRestError } from "../rest/errors.ts";
import {
  banUntil,
  EMPTY_GROUP,
  type GroupLimit,
  type GroupState,
  type Observation,
  observe as observeState,
  take,
  UPBIT_GROUPS,
} from "./decide.ts";

export interface StoreUpdate<T> {
  /** The new state, or undefined to leave the stored one as it is. */
  readonly state: GroupState | undefined;
  readonly result: T;
}

/** Shared group state. `update` must apply `fn` atomically (retrying on a concurrent change). */
export interface GovernorStore {
  readonly update: <T>(group: string, fn: (state: GroupState) => StoreUpdate<T>) => Promise<T>;
  /** The ban end as last seen (epoch ms; 0 = none). Cheap: called before every request. */
  readonly bannedUntil: () => number;
  /** Records a ban for every replica. */
  readonly setBan: (untilMs: number) => Promise<void>;
}

export interface Grant {
  /** When the slot was granted; pass it back to `observe`. */
  readonly sentAt: number;
}

/** What the REST client needs from a governor. */
export interface RateGate {
  /** Waits for a slot of `group`; rejects with UPBIT_RATE_LIMITED past `deadlineMs`, UPBIT_BANNED during a ban. */
  readonly acquire: (group: string, deadlineMs: number) => Promise<Grant>;
  /** Feeds a response (or its absence, status 0) back. */
  readonly observe: (
    group: string,
    grant: Grant,
    result: {
      readonly status: number;
      readonly remaining?: number;
      readonly retryAfterMs?: number;
    },
  ) => Promise<void>;
}

export interface Governor extends RateGate {
  readonly bannedUntil: () => number;
  /** Requests waiting in this process, per group. */
  readonly queued: () => Readonly<Record<string, number>>;
}

export interface GovernorOptions {
  readonly store: GovernorStore;
  readonly limits?: Readonly<Record<string, GroupLimit>>;
  readonly clock?: () => number;
  /** How to wait (injected in tests). */
  readonly sleep?: (ms: number) => Promise<void>;
  /** Called once per new ban (418): raise the alarm here. */
  readonly onBan?: (untilMs: number, group: string) => void;
}

const defaultSleep = (ms: number) =>
  new Promise<void>((resolve) => {
    setTimeout(resolve, Math.max(0, ms));
  });

export function createMemoryGovernorStore(): GovernorStore {
  const groups = new Map<string, GroupState>();
  let ban = 0;
  return {
    update: async (group, fn) => {
      const r = fn(groups.get(group) ?? EMPTY_GROUP);
      if (r.state !== undefined) groups.set(group, r.state);
      return r.result;
    },
    bannedUntil: () => ban,
    setBan: async (untilMs) => {
      ban = Math.max(ban, untilMs);
    },
  };
}

export function createGovernor(options: GovernorOptions): Governor {
  const { store } = options;
  const limits = options.limits ?? UPBIT_GROUPS;
  const clock = options.clock ?? Date.now;
  const sleep = options.sleep ?? defaultSleep;
  const lanes = new Map<string, Promise<unknown>>();
  const waiting = new Map<string, number>();
  const limitOf = (group: string): GroupLimit => limits[group] ?? { limit: 30, windowMs: 1000 };

  const bannedError = (until: number) =>
    new UpbitRestError(
      "UPBIT_BANNED",
      `exchange calls are stopped until ${new Date(until).toISOString()} (418)`,
      { outcomeUnknown: false, retryAfterMs: until - clock() },
    );

  const acquireNow = async (group: string, deadlineMs: number): Promise<Grant> => {
    const limit = limitOf(group);
    for (;;) {
      const now = clock();
      const ban = store.bannedUntil();
      if (ban > now) throw bannedError(ban);
      const d = await store.update(group, (s) => {
        const t = take(limit, s, now);
        return { state: t.kind === "go" ? t.state : undefined, result: t };
      });
      if (d.kind === "go") return { sentAt: now };
      if (d.untilMs > deadlineMs)
        throw new UpbitRestError(
          "UPBIT_RATE_LIMITED",
          `no ${group} slot before the deadline (next at ${new Date(d.untilMs).toISOString()})`,
          { outcomeUnknown: false, group, retryAfterMs: d.untilMs - now },
        );
      await sleep(d.untilMs - clock());
    }
  };

  return {
    acquire: (group, deadlineMs) => {
      waiting.set(group, (waiting.get(group) ?? 0) + 1);
      const prev = lanes.get(group) ?? Promise.resolve();
      const run = () => acquireNow(group, deadlineMs);
      const mine = prev.then(run, run).finally(() => {
        waiting.set(group, (waiting.get(group) ?? 1) - 1);
      });
      lanes.set(
        group,
        mine.catch(() => undefined),
      );
      return mine;
    },
    observe: async (group, grant, result) => {
      const now = clock();
      if (result.status === 418) {
        const before = store.bannedUntil();
        const until = banUntil(before, now, result.retryAfterMs ?? 60_000);
        await store.setBan(until);
        if (until > before && before <= now) options.onBan?.(until, group);
        return;
      }
      const o: Observation = {
        status: result.status,
        sentAt: grant.sentAt,
        ...(result.remaining === undefined ? {} : { remaining: result.remaining }),
      };
      const limit = limitOf(group);
      await store.update(group, (s) => {
        const next = observeState(limit, s, now, o);
        const changed =
          next.used !== s.used ||
          next.strikes !== s.strikes ||
          next.blockedUntil !== s.blockedUntil ||
          next.windowStart !== s.windowStart;
        return { state: changed ? next : undefined, result: undefined };
      });
    },
    bannedUntil: () => store.bannedUntil(),
    queued: () => Object.fromEntries(waiting),
  };
}
