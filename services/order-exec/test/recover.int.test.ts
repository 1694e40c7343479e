/**
 * Restart recovery of stale `pending`/`unknown` claims (recover.ts): real NATS,
 * the real signer, the Upbit simulator. A replica that gives up on (or dies
 * before) resolving an order leaves its KV entry behind; a freshly started
 * replica leases it and resolves it exactly once, never with a POST.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { type KV, Kvm } from "@nats-io/kv";
import { eventually } from "@upline/testkit";
import { type ClaimRecord, ClaimState, claimKey } from "../src/index.ts";
import { type Harness, limitBuy, startHarness } from "./harness.ts";

/** Recovery on at once, and a short staleness for the test (production default ≥ 5 min). */
const RECOVERING = {
  resolveMs: 30_000,
  recoverStaleMs: 100,
  recoverScanMs: 200,
} as const;

const readClaim = async (kv: KV, id: string): Promise<ClaimRecord | undefined> => {
  const e = await kv.get(claimKey("main", id));
  return e === null || e.operation !== "PUT"
    ? undefined
    : (JSON.parse(Buffer.from(e.value).toString("utf8")) as ClaimRecord);
};

const simOrders = (h: Harness, id: string) =>
  h.sim.admin.orders(h.accessKey).filter((o) => o.identifier === id);

const orderPosts = (h: Harness) => h.sim.admin.counters().requests.order ?? 0;

/**
 * Places `n` orders through a replica whose POST responses are dropped and
 * which never looks them up (`resolveMs: 0`), then stops it: the orders exist
 * at the exchange, their KV entries stay `unknown`.
 */
async function leaveUnknown(h: Harness, kv: KV, n: number): Promise<string[]> {
  h.sim.admin.setFaults({ dropOrderResponses: n, routes: ["POST /v1/orders"] });
  const ids = Array.from({ length: n }, (_, i) => `rec-${process.pid}-${Date.now()}-${i}`);
  for (const id of ids) assert.equal((await h.place(limitBuy(id), 20_000)).status, "unknown");
  h.sim.admin.clearFaults();
  for (const id of ids)
    await eventually(async () => (await readClaim(kv, id))?.state === ClaimState.Unknown);
  for (const e of h.execs) await e.stop();
  for (const id of ids) {
    assert.equal(simOrders(h, id).length, 1);
    assert.equal((await readClaim(kv, id))?.state, ClaimState.Unknown, "left unknown");
  }
  return ids;
}

/** A `pending` claim of a replica that died before sending anything, ten minutes ago. */
async function stalePending(kv: KV): Promise<string> {
  const id = `stale-${process.pid}-${Date.now()}`;
  await kv.put(
    claimKey("main", id),
    JSON.stringify({ state: ClaimState.Pending, at: Date.now() - 600_000, market: "KRW-BTC" }),
  );
  return id;
}

const assertAcceptedOnce = async (h: Harness, kv: KV, id: string) => {
  await eventually(async () => (await readClaim(kv, id))?.state === ClaimState.Accepted, {
    timeoutMs: 20_000,
  });
  const rec = await readClaim(kv, id);
  const order = simOrders(h, id);
  assert.equal(order.length, 1, "one order at the exchange");
  assert.equal(rec?.reply?.status, "accepted");
  assert.equal(rec?.reply?.uuid, order[0]?.uuid);
  await eventually(() => h.events.some((e) => e.client_order_id === id && e.type === "accepted"));
  await h.nc.flush();
  const accepted = h.events.filter((e) => e.client_order_id === id && e.type === "accepted");
  assert.equal(accepted.length, 1, "the resolving event exactly once");
  assert.equal(accepted[0]?.uuid, order[0]?.uuid);
  assert.equal(accepted[0]?.id, `main.${id}.accepted`, "the stable message id");
};

const assertAbsentRejected = async (h: Harness, kv: KV, id: string) => {
  await eventually(async () => (await readClaim(kv, id))?.state === ClaimState.Rejected, {
    timeoutMs: 20_000,
  });
  const rec = await readClaim(kv, id);
  assert.equal(rec?.reply?.status, "rejected");
  assert.equal(rec?.reply?.error?.code, "ORDER_NOT_FOUND");
  assert.equal(simOrders(h, id).length, 0, "never sent");
  await eventually(() =>
    h.audits.some(
      (a) =>
        a.kind === "order_response" &&
        a.data.client_order_id === id &&
        a.data.code === "ORDER_NOT_FOUND",
    ),
  );
};

const recoveryAudits = (h: Harness, id: string) =>
  h.audits.filter((a) => a.kind === "order_recovery" && a.data.client_order_id === id);

test("order-exec - recovery: an unknown order left by a stopped replica is resolved by a fresh one", async () => {
  const h = await startHarness({ replicas: 1, settings: { resolveMs: 0 } });
  try {
    const kv = await new Kvm(h.nc).open(h.subjects.buckets.orderIds);
    const [id] = await leaveUnknown(h, kv, 1);
    const posts = orderPosts(h);
    await h.startReplica(RECOVERING);
    await assertAcceptedOnce(h, kv, id as string);
    assert.equal(orderPosts(h), posts, "no POST from recovery");
    assert.equal(recoveryAudits(h, id as string).length, 1, "recovery audited");
    // A repeat of the intent now answers with the recovered outcome.
    const again = await h.place(limitBuy(id), 10_000);
    assert.equal(again.status, "accepted");
    assert.equal(simOrders(h, id as string).length, 1);
  } finally {
    await h.stop();
  }
});

test("order-exec - recovery: a stale pending claim that never reached the exchange ends rejected without a POST", async () => {
  const h = await startHarness({ replicas: 0 });
  try {
    const kv = await new Kvm(h.nc).open(h.subjects.buckets.orderIds);
    const id = await stalePending(kv);
    const orders = h.sim.admin.orders(h.accessKey).length;
    const posts = orderPosts(h);
    await h.startReplica(RECOVERING);
    await assertAbsentRejected(h, kv, id);
    assert.equal(h.sim.admin.orders(h.accessKey).length, orders, "simulator order count unchanged");
    assert.equal(orderPosts(h), posts, "no POST");
    assert.equal(recoveryAudits(h, id).length, 1);
    // A repeat of the intent answers with the recorded outcome and sends nothing.
    const again = await h.place(limitBuy(id), 10_000);
    assert.equal(again.status, "rejected");
    assert.equal(again.error?.code, "ORDER_NOT_FOUND");
    assert.equal(orderPosts(h), posts, "still no POST");
  } finally {
    await h.stop();
  }
});

test("order-exec - recovery: two replicas recovering at once resolve each entry once", async () => {
  const h = await startHarness({ replicas: 1, settings: { resolveMs: 0 } });
  try {
    const kv = await new Kvm(h.nc).open(h.subjects.buckets.orderIds);
    const unknown = await leaveUnknown(h, kv, 3);
    const pending = await stalePending(kv);
    const posts = orderPosts(h);
    await Promise.all([h.startReplica(RECOVERING), h.startReplica(RECOVERING)]);
    for (const id of unknown) await assertAcceptedOnce(h, kv, id);
    await assertAbsentRejected(h, kv, pending);
    await h.nc.flush();
    for (const id of [...unknown, pending])
      assert.equal(recoveryAudits(h, id).length, 1, `one lease winner for ${id}`);
    assert.equal(orderPosts(h), posts, "no POST from recovery");
  } finally {
    await h.stop();
  }
});
