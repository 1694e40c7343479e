/**
 * The order path's concurrency with fakes (no NATS): claim ∥ sign ∥ request
 * audit, the POST only once the claim is won AND the audit acknowledged AND
 * the grant there; the outcome stored right after the reply, and a repeat in
 * that window answering the same. Every wait is on a promise the test
 * controls; nothing sleeps.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  type AuditPublisher,
  type AuditRecord,
  createLogger,
  type OrderEvent,
  type OrderIntent,
  UplineError,
} from "@upline/shared";
import type { OrderApi, SignedGrant, UpbitOrder } from "@upline/upbit";
import {
  type ClaimRecord,
  type ClaimResult,
  ClaimState,
  type Claims,
  createExecutor,
  DEFAULT_MAX_TOTAL,
  DEFAULT_MIN_TOTAL,
  type Executor,
} from "../src/index.ts";
import { limitBidFields } from "./fixtures.ts";

interface Deferred<T> {
  readonly promise: Promise<T>;
  readonly resolve: (v: T) => void;
  readonly reject: (e: unknown) => void;
}
function deferred<T>(): Deferred<T> {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** In-memory claims with hooks: a claim or settle can be held until the test lets it go. */
function memoryClaims() {
  const entries = new Map<string, { record: ClaimRecord; revision: number }>();
  const watchers = new Set<() => void>();
  let rev = 0;
  const log: string[] = [];
  const hooks: {
    claim?: (key: string) => Promise<void>;
    settle?: (key: string) => Promise<void>;
  } = {};
  const k = (a: string, id: string) => `${a}.${id}`;
  const notify = () => {
    for (const w of [...watchers]) w();
  };
  const claims: Claims = {
    claim: async (a, id, record): Promise<ClaimResult> => {
      await hooks.claim?.(k(a, id));
      const cur = entries.get(k(a, id));
      if (cur !== undefined) return { won: false, record: cur.record, revision: cur.revision };
      entries.set(k(a, id), { record, revision: ++rev });
      log.push(`claim ${id}`);
      return { won: true, revision: rev };
    },
    read: async (a, id) => entries.get(k(a, id)),
    settle: async (a, id, record) => {
      await hooks.settle?.(k(a, id));
      entries.set(k(a, id), { record, revision: ++rev });
      log.push(`settle ${id} ${record.state}`);
      notify();
    },
    release: async (a, id) => {
      entries.delete(k(a, id));
      log.push(`release ${id}`);
      notify();
    },
    waitSettled: (a, id, timeoutMs) =>
      new Promise((resolve) => {
        const check = () => {
          const e = entries.get(k(a, id));
          if (e === undefined || e.record.state !== ClaimState.Pending) {
            watchers.delete(check);
            clearTimeout(timer);
            resolve(e?.record);
          }
        };
        const timer = setTimeout(() => {
          watchers.delete(check);
          resolve(entries.get(k(a, id))?.record);
        }, timeoutMs);
        watchers.add(check);
        check();
      }),
  };
  return { claims, entries, log, hooks };
}

const ORDER: UpbitOrder = {
  uuid: "u-1",
  side: "bid",
  ord_type: "limit",
  price: "90000000",
  state: "wait",
  market: "KRW-BTC",
  created_at: "2026-11-21T00:00:00+09:00",
  volume: "0.0001",
  remaining_volume: "0.0001",
  executed_volume: "0",
  identifier: "c1",
};

const intent = (id = "c1"): OrderIntent => ({
  client_order_id: id,
  ...limitBidFields,
});

function setup() {
  const mem = memoryClaims();
  const posts: SignedGrant[] = [];
  const audits: AuditRecord[] = [];
  const events: OrderEvent[] = [];
  const hooks: {
    sign?: () => Promise<void>;
    audit?: (r: AuditRecord) => Promise<void>;
    post?: () => Promise<UpbitOrder>;
  } = {};
  const audit: AuditPublisher = {
    record: async (r) => {
      await hooks.audit?.(r);
      audits.push(r);
      return { event: {} as never, ack: { stream: "AUDIT", seq: audits.length } as never };
    },
  };
  const api = {
    submitOrder: async (grant: SignedGrant) => {
      posts.push(grant);
      return hooks.post === undefined ? ORDER : hooks.post();
    },
  } as unknown as OrderApi;
  const executor: Executor = createExecutor({
    api,
    sign: async (_key, call) => {
      await hooks.sign?.();
      return { authorization: "Bearer t", body: JSON.stringify(call.body) };
    },
    claims: mem.claims,
    audit,
    publishEvent: async (e) => {
      events.push(e);
    },
    trading: () => "active",
    rules: () => ({ tickSize: "1000" }),
    logger: createLogger({ service: "order-exec", level: "silent" }),
    settings: {
      accounts: { main: "main" },
      limits: {
        markets: new Set(["KRW-BTC"]),
        minTotal: DEFAULT_MIN_TOTAL,
        maxTotal: DEFAULT_MAX_TOTAL,
        maxNotional: {},
      },
      maxOrdersPerS: 1_000,
      queueMs: 5_000,
      absentAfterMs: 200,
      resolveMs: 1_000,
      duplicateWaitMs: 2_000,
    },
  });
  return { executor, mem, posts, audits, events, hooks };
}

test("exec - audit not acknowledged: nothing is sent although signing finished; the claim is given back", async () => {
  const s = setup();
  const signed = deferred<void>();
  s.hooks.sign = async () => {
    signed.resolve();
  };
  s.hooks.audit = async (r) => {
    if (r.kind === "order_submit") {
      await signed.promise; // the grant is there before the audit fails
      throw new UplineError("PUBLISH_NOT_ACKED", "no ack");
    }
  };
  const reply = await s.executor.place(intent());
  assert.equal(reply.status, "rejected");
  assert.equal(reply.error?.code, "ORDER_AUDIT_UNAVAILABLE");
  assert.equal(s.posts.length, 0, "no POST without an acknowledged audit record");
  assert.deepEqual(s.mem.log, ["claim c1", "release c1"]);
  await s.executor.stop();
});

test("exec - claim lost to another replica: nothing is sent; the first one's result is the answer", async () => {
  const s = setup();
  const first = { status: "accepted" as const, client_order_id: "c1", uuid: "u-other" };
  s.mem.entries.set("main.c1", {
    record: { state: ClaimState.Accepted, at: 1, market: "KRW-BTC", reply: first },
    revision: 7,
  });
  const signed = deferred<void>();
  s.hooks.sign = async () => {
    signed.resolve();
  };
  const reply = await s.executor.place(intent());
  await signed.promise;
  assert.deepEqual(reply, first);
  assert.equal(s.posts.length, 0, "no POST when the claim was lost");
  await s.executor.stop();
});

test("exec - claim lost while the other replica is still pending: waits for its outcome, sends nothing", async () => {
  const s = setup();
  s.mem.entries.set("main.c1", {
    record: { state: ClaimState.Pending, at: 1, market: "KRW-BTC" },
    revision: 3,
  });
  const p = s.executor.place(intent());
  // The other replica stores its outcome.
  const other = { status: "accepted" as const, client_order_id: "c1", uuid: "u-other" };
  const settled = s.mem.claims.settle("main", "c1", {
    state: ClaimState.Accepted,
    at: 2,
    market: "KRW-BTC",
    reply: other,
  });
  await settled;
  assert.deepEqual(await p, other);
  assert.equal(s.posts.length, 0);
  await s.executor.stop();
});

test("exec - the POST waits for the claim even when audit and grant are in", async () => {
  const s = setup();
  const claimGate = deferred<void>();
  const auditDone = deferred<void>();
  const signDone = deferred<void>();
  s.mem.hooks.claim = () => claimGate.promise;
  s.hooks.sign = async () => {
    signDone.resolve();
  };
  s.hooks.audit = async (r) => {
    if (r.kind === "order_submit") auditDone.resolve();
  };
  const p = s.executor.place(intent());
  await Promise.all([auditDone.promise, signDone.promise]);
  // Let every queued continuation run: the POST must still not have gone out.
  await new Promise<void>((r) => setImmediate(r));
  assert.equal(s.posts.length, 0, "not sent before the claim is won");
  claimGate.resolve();
  const reply = await p;
  assert.equal(reply.status, "accepted");
  assert.equal(s.posts.length, 1);
  await s.executor.stop();
});

test("exec - signer refusal: nothing is sent and the claim is given back", async () => {
  const s = setup();
  s.hooks.sign = async () => {
    throw new UplineError("SIGNER_TRADING_HALTED", "halted");
  };
  const reply = await s.executor.place(intent());
  assert.equal(reply.status, "rejected");
  assert.equal(reply.error?.code, "SIGNER_TRADING_HALTED");
  assert.equal(s.posts.length, 0);
  assert.deepEqual(s.mem.log, ["claim c1", "release c1"]);
  await s.executor.stop();
});

test("exec - replied before the outcome is stored; a repeat in that window gets the same answer and sends nothing", async () => {
  const s = setup();
  const settleGate = deferred<void>();
  const settleStarted = deferred<void>();
  s.mem.hooks.settle = async () => {
    settleStarted.resolve();
    await settleGate.promise;
  };
  const reply = await s.executor.place(intent());
  assert.deepEqual(reply, { status: "accepted", client_order_id: "c1", uuid: "u-1" });
  await settleStarted.promise;
  // The KV entry is still `pending`: the outcome is not stored yet.
  assert.equal(s.mem.entries.get("main.c1")?.record.state, ClaimState.Pending);
  const again = await s.executor.place(intent());
  assert.deepEqual(again, reply, "the repeat answers with the first one's reply");
  assert.equal(s.posts.length, 1, "exactly one POST");
  settleGate.resolve();
  await s.executor.stop();
  assert.equal(s.mem.entries.get("main.c1")?.record.state, ClaimState.Accepted);
  // After storage the repeat answers from the stored entry, still the same.
  assert.deepEqual(await s.executor.place(intent()), reply);
  assert.equal(s.posts.length, 1);
  // One response audited (each attempt's request record is written before it may send).
  assert.equal(s.audits.filter((a) => a.kind === "order_response").length, 1);
  assert.deepEqual(
    s.events.map((e) => e.type),
    ["accepted"],
  );
});

test("exec - concurrent repeats on one replica while the first is in flight: one POST, one answer", async () => {
  const s = setup();
  const post = deferred<UpbitOrder>();
  const posted = deferred<void>();
  s.hooks.post = () => {
    posted.resolve();
    return post.promise;
  };
  const first = s.executor.place(intent());
  await posted.promise;
  const repeats = [s.executor.place(intent()), s.executor.place(intent())];
  post.resolve(ORDER);
  const replies = await Promise.all([first, ...repeats]);
  for (const r of replies) assert.deepEqual(r, replies[0]);
  assert.equal(s.posts.length, 1);
  await s.executor.stop();
});

test("exec - a repeat waiting on a first attempt that sent nothing claims for itself", async () => {
  const s = setup();
  let n = 0;
  const firstAuditSeen = deferred<void>();
  const failFirst = deferred<void>();
  s.hooks.audit = async (r) => {
    if (r.kind !== "order_submit") return;
    n++;
    if (n === 1) {
      firstAuditSeen.resolve();
      await failFirst.promise;
      throw new UplineError("PUBLISH_NOT_ACKED", "no ack");
    }
  };
  const first = s.executor.place(intent());
  await firstAuditSeen.promise;
  const repeat = s.executor.place(intent());
  failFirst.resolve();
  const r1 = await first;
  const r2 = await repeat;
  assert.equal(r1.error?.code, "ORDER_AUDIT_UNAVAILABLE");
  assert.equal(r2.status, "accepted");
  assert.equal(s.posts.length, 1);
  await s.executor.stop();
});
