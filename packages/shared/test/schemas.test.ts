import assert from "node:assert/strict";
import { test } from "node:test";
import { AuditEvent, OrderIntent, OrderRef, Trade } from "../src/index.ts";

const limitBuy = {
  client_order_id: "strat1-0001",
  account: "main",
  market: "KRW-BTC",
  side: "bid",
  ord_type: "limit",
  price: "95000000",
  volume: "0.001",
};

test("schemas - a well-formed limit order intent parses", () => {
  assert.deepEqual(OrderIntent.parse(limitBuy), limitBuy);
});

test("schemas - order intents with wrong types, unknown fields or missing fields are refused", () => {
  const bad: Record<string, unknown>[] = [
    { ...limitBuy, price: 95000000 }, // a number, not a decimal string
    { ...limitBuy, price: "1e8" },
    { ...limitBuy, volume: "-1" },
    { ...limitBuy, leverage: "10" }, // unknown field
    { ...limitBuy, market: "krw-btc" },
    { ...limitBuy, side: "buy" },
    { ...limitBuy, price: undefined }, // limit needs a price
    { ...limitBuy, ord_type: "price", volume: undefined, side: "ask" }, // market buy must be bid
    { ...limitBuy, ord_type: "best" }, // best needs ioc/fok
    { ...limitBuy, ord_type: "market", side: "ask", price: undefined, time_in_force: "post_only" },
    { ...limitBuy, expires_at: "tomorrow" },
  ];
  for (const intent of bad) {
    assert.equal(OrderIntent.safeParse(intent).success, false, JSON.stringify(intent));
  }
});

test("schemas - market buy, market sell and best orders parse with the right fields", () => {
  assert.ok(OrderIntent.safeParse({ ...limitBuy, ord_type: "price", volume: undefined }).success);
  assert.ok(
    OrderIntent.safeParse({ ...limitBuy, ord_type: "market", side: "ask", price: undefined })
      .success,
  );
  assert.ok(
    OrderIntent.safeParse({
      ...limitBuy,
      ord_type: "best",
      volume: undefined,
      time_in_force: "ioc",
    }).success,
  );
});

test("schemas - an order reference names exactly one of uuid and client_order_id", () => {
  assert.ok(OrderRef.safeParse({ account: "main", uuid: "u-1" }).success);
  assert.equal(OrderRef.safeParse({ account: "main" }).success, false);
  assert.equal(
    OrderRef.safeParse({ account: "main", uuid: "u-1", client_order_id: "c-1" }).success,
    false,
  );
});

test("schemas - trades keep sequential_id as a string beyond 2^53", () => {
  const t = Trade.parse({
    type: "trade",
    market: "KRW-BTC",
    exchange_ts: 1,
    received_ts: 2,
    price: "1",
    volume: "1",
    side: "ask",
    sequential_id: "17000000000000000123",
  });
  assert.equal(t.sequential_id, "17000000000000000123");
});

test("schemas - audit events need a UUIDv7 id", () => {
  const base = {
    ts: new Date().toISOString(),
    service: "signer",
    kind: "sign",
    outcome: "ok",
    data: {},
  };
  assert.ok(AuditEvent.safeParse({ ...base, id: "019a0000-0000-7000-8000-000000000000" }).success);
  assert.equal(
    AuditEvent.safeParse({ ...base, id: "6ba7b810-9dad-41d1-80b4-00c04fd430c8" }).success,
    false,
  );
});
