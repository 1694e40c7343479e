import assert from "node:assert/strict";
import { test } from "node:test";
import { createSubjects } from "../src/index.ts";

test("subjects - the default system uses DESIGN.md's names", () => {
  const s = createSubjects();
  assert.equal(s.md.event("trade", "KRW-BTC"), "md.v1.upbit.trade.KRW-BTC");
  assert.equal(s.md.health("KRW-ETH"), "md.v1.health.KRW-ETH");
  assert.equal(s.orders.place, "orders.v1.place");
  assert.equal(s.orders.events("BTC-XRP"), "orders.v1.events.BTC-XRP");
  assert.equal(s.signer.sign, "signer.v1.sign");
  assert.equal(s.signer.admin("reload"), "signer.v1.admin.reload");
  assert.equal(s.audit.event("order-exec", "order_sent"), "audit.v1.order-exec.order_sent");
  assert.deepEqual(s.streams, { md: "MD", orders: "ORDERS", audit: "AUDIT" });
  assert.deepEqual(s.buckets, { control: "control", orderIds: "order-ids" });
});

test("subjects - a namespace prefixes every subject, stream and bucket", () => {
  const s = createSubjects("t1");
  assert.equal(s.orders.place, "t1.orders.v1.place");
  assert.equal(s.audit.all, "t1.audit.v1.>");
  assert.equal(s.streams.audit, "t1_AUDIT");
  assert.equal(s.buckets.orderIds, "t1_order-ids");
});

test("subjects - refuses tokens that would break a subject", () => {
  const s = createSubjects();
  assert.throws(() => s.md.event("trade", "KRW-BTC.>"), RangeError);
  assert.throws(() => s.orders.events("krw btc"), RangeError);
  assert.throws(() => s.audit.event("signer", "a.b"), RangeError);
  assert.throws(() => createSubjects("Bad.NS"), RangeError);
});
