/**
 * The idempotency claim through the fast publisher against real nats-server:
 * a create-only put (`Nats-Expected-Last-Subject-Sequence: 0` on
 * `$KV.<bucket>.<key>`) has exactly one winner, lands where the KV API reads
 * it, treats a release's delete marker as free, and settles like `kv.put`.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { type KV, Kvm } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/transport-node";
import {
  connectBus,
  createJsPublisher,
  createSubjects,
  ensureStreams,
  type JsPublisher,
} from "@upline/shared";
import { startNats, uniqueNamespace } from "@upline/testkit";
import { fastKvPut, isWrongLastSequence } from "../src/claims.ts";
import { ClaimState, type Claims, claimKey, createClaims } from "../src/index.ts";
import { logger } from "./harness.ts";

const subjects = createSubjects(uniqueNamespace());
const conns: NatsConnection[] = [];
const publishers: JsPublisher[] = [];
const replicas: Claims[] = [];
let kv: KV;

before(async () => {
  const nats = await startNats();
  for (let i = 0; i < 2; i++) {
    const nc = await connectBus({ NATS_URL: nats.url }, { name: `claims-${i}`, logger });
    conns.push(nc);
    if (i === 0) await ensureStreams(nc, subjects);
    const publisher = createJsPublisher(nc);
    publishers.push(publisher);
    const bucket = await new Kvm(nc).open(subjects.buckets.orderIds);
    if (i === 0) kv = bucket;
    replicas.push(createClaims(bucket, { publisher, bucket: subjects.buckets.orderIds }));
  }
});
after(async () => {
  for (const p of publishers) await p.close();
  for (const c of conns) await c.drain();
});

const pending = (at: number) => ({ state: ClaimState.Pending, at, market: "KRW-BTC" });

test("claims - fast create-only put: one winner among concurrent claims on two connections", async () => {
  const results = await Promise.all(
    Array.from({ length: 20 }, (_, i) =>
      (replicas[i % 2] as Claims).claim("main", "race.1:x", pending(i)),
    ),
  );
  const won = results.filter((r) => r.won);
  assert.equal(won.length, 1);
  const entry = await kv.get(claimKey("main", "race.1:x"));
  assert.equal(entry?.operation, "PUT");
  assert.equal(entry?.revision, won[0]?.revision);
  for (const r of results)
    if (!r.won) {
      assert.equal(r.revision, won[0]?.revision);
      assert.equal(r.record?.state, ClaimState.Pending);
    }
});

test("claims - the ack of a taken key is JetStream's wrong-last-sequence (10071)", async () => {
  const fast = { publisher: publishers[0] as JsPublisher, bucket: subjects.buckets.orderIds };
  const key = claimKey("main", "seq-check");
  const rev = await fastKvPut(fast, key, "{}", 0);
  await assert.rejects(fastKvPut(fast, key, "{}", 0), (err) => {
    assert.ok(isWrongLastSequence(err));
    assert.equal((err as { details?: { err_code?: number } }).details?.err_code, 10071);
    return true;
  });
  await assert.rejects(fastKvPut(fast, key, "{}", rev + 1000), (err) => isWrongLastSequence(err));
  assert.ok((await fastKvPut(fast, key, "{}", rev)) > rev, "expected = last revision succeeds");
});

test("claims - a released id (delete marker) can be claimed again; settle is read back by every replica", async () => {
  const [a, b] = replicas as [Claims, Claims];
  const first = await a.claim("main", "rel-1", pending(1));
  assert.equal(first.won, true);
  if (!first.won) return;
  await a.release("main", "rel-1", first.revision);
  assert.equal((await kv.get(claimKey("main", "rel-1")))?.operation, "DEL");
  const again = await b.claim("main", "rel-1", pending(2));
  assert.equal(again.won, true, "a delete marker counts as free");
  const lost = await a.claim("main", "rel-1", pending(3));
  assert.equal(lost.won, false);

  const waiting = a.waitSettled("main", "rel-1", 5_000);
  const reply = { status: "accepted" as const, client_order_id: "rel-1", uuid: "u-9" };
  await b.settle("main", "rel-1", { state: ClaimState.Accepted, at: 4, market: "KRW-BTC", reply });
  assert.deepEqual((await waiting)?.reply, reply);
  assert.deepEqual((await a.read("main", "rel-1"))?.record.reply, reply);
});
