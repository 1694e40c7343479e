/**
 * The hand-checked `orders.v1.place` intake agrees with the OrderIntent schema:
 * whatever the hand check accepts, zod accepts with the same output; on the
 * plain shapes it covers (no `expires_at`) it accepts exactly what zod accepts;
 * and a refused request gets zod's typed error, byte for byte.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { OrderIntent } from "@upline/shared";
import { fastOrderIntent } from "../src/intake.ts";
import { limitBidFields } from "./fixtures.ts";

const good: Record<string, unknown>[] = [
  {
    client_order_id: "c1",
    ...limitBidFields,
  },
  {
    client_order_id: "A.b_c:d-9",
    account: "a_b-1",
    market: "BTC-ETH",
    side: "ask",
    ord_type: "limit",
    price: "0.05",
    volume: "1",
    time_in_force: "post_only",
  },
  {
    client_order_id: "p",
    account: "main",
    market: "KRW-BTC",
    side: "bid",
    ord_type: "price",
    price: "10000",
  },
  {
    client_order_id: "m",
    account: "main",
    market: "KRW-BTC",
    side: "ask",
    ord_type: "market",
    volume: "0.1",
  },
  {
    client_order_id: "b1",
    account: "main",
    market: "KRW-BTC",
    side: "bid",
    ord_type: "best",
    price: "10000",
    time_in_force: "ioc",
  },
  {
    client_order_id: "b2",
    account: "main",
    market: "USDT-BTC",
    side: "ask",
    ord_type: "best",
    volume: "0.1",
    time_in_force: "fok",
  },
  {
    client_order_id: "l-ioc",
    account: "main",
    market: "KRW-BTC",
    side: "bid",
    ord_type: "limit",
    price: "1",
    volume: "1",
    time_in_force: "ioc",
  },
];

const base = good[0] as Record<string, unknown>;
const without = (k: string) => {
  const o = { ...base };
  delete o[k];
  return o;
};

const bad: unknown[] = [
  null,
  [],
  "x",
  42,
  {},
  without("client_order_id"),
  without("account"),
  without("market"),
  without("side"),
  without("ord_type"),
  without("price"),
  without("volume"),
  { ...base, extra: 1 },
  { ...base, client_order_id: "" },
  { ...base, client_order_id: "-lead" },
  { ...base, client_order_id: "a".repeat(65) },
  { ...base, client_order_id: "a b" },
  { ...base, client_order_id: "c1\n" },
  { ...base, client_order_id: 7 },
  { ...base, account: "Main" },
  { ...base, account: "" },
  { ...base, market: "krw-btc" },
  { ...base, market: "KRWBTC" },
  { ...base, market: "KRW-BTC\n" },
  { ...base, side: "buy" },
  { ...base, ord_type: "stop" },
  { ...base, price: "01" },
  { ...base, price: "1." },
  { ...base, price: "-1" },
  { ...base, price: "1e3" },
  { ...base, price: 90000000 },
  { ...base, price: null },
  { ...base, volume: "0.0001 " },
  { ...base, time_in_force: "gtc" },
  { ...base, time_in_force: null },
  { ...base, ord_type: "price" },
  { ...base, ord_type: "market" },
  { ...base, ord_type: "best", time_in_force: "ioc" },
  { ...good[2], side: "ask" },
  { ...good[3], side: "bid" },
  { ...good[4], time_in_force: undefined },
  { ...good[4], time_in_force: "post_only" },
  { ...good[5], price: "1" },
  { ...base, expires_at: "yesterday" },
  JSON.parse(
    '{"__proto__":{"x":1},"client_order_id":"c1","account":"main","market":"KRW-BTC","side":"bid","ord_type":"limit","price":"1","volume":"1"}',
  ),
];

test("the hand check accepts exactly the plain intents zod accepts, with the same output", () => {
  for (const g of good) {
    const parsed = OrderIntent.parse(g);
    assert.deepEqual(fastOrderIntent(g), parsed, JSON.stringify(g));
  }
  for (const b of bad) {
    const clean = b !== null && typeof b === "object" ? JSON.parse(JSON.stringify(b)) : b;
    assert.equal(fastOrderIntent(clean), undefined, JSON.stringify(b));
    assert.equal(OrderIntent.safeParse(clean).success, false, JSON.stringify(b));
  }
});

test("intents the hand check leaves alone still go through zod", () => {
  const withExpiry = { ...base, expires_at: "2030-01-01T00:00:00.000Z" };
  assert.equal(fastOrderIntent(withExpiry), undefined);
  assert.ok(OrderIntent.safeParse(withExpiry).success);
});

test("generated intents: hand check ⇒ zod, and zod ⇒ hand check on plain shapes", () => {
  // [values zod accepts, values it refuses] per field.
  const pools: Record<string, [unknown[], unknown[]]> = {
    client_order_id: [
      ["c1", "x.y:z_w-1", "a".repeat(64)],
      ["", "-x", "a".repeat(65), 5, "é"],
    ],
    account: [
      ["main", "a_b-c"],
      ["Main", "", 1],
    ],
    market: [
      ["KRW-BTC", "BTC-ETH", "USDT-XRP"],
      ["KRW-btc", "KRW", 3],
    ],
    side: [
      ["bid", "ask"],
      ["buy", null],
    ],
    ord_type: [["limit", "price", "market", "best"], ["stop"]],
    price: [
      ["1", "0", "0.5", "10.25"],
      ["01", ".5", "1e2", -1, null],
    ],
    volume: [
      ["1", "0.0001"],
      ["00", "1.", 1],
    ],
    time_in_force: [
      ["ioc", "fok", "post_only"],
      ["day", null],
    ],
    extra: [[], [1, "x"]],
  };
  // Deterministic xorshift: the same cases on every run.
  let s = 0x9e3779b9;
  const rnd = (n: number) => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) % n;
  };
  let agreedValid = 0;
  for (let i = 0; i < 50_000; i++) {
    const o: Record<string, unknown> = {};
    for (const [k, [ok, notOk]] of Object.entries(pools)) {
      const values = ok.length > 0 && rnd(8) !== 0 ? ok : notOk;
      // Required fields are mostly present, optional ones half the time, extras rarely.
      const keep =
        k === "extra"
          ? rnd(20) === 0
          : ["price", "volume", "time_in_force"].includes(k)
            ? rnd(2) === 0
            : rnd(30) !== 0;
      if (keep) o[k] = values[rnd(values.length)];
    }
    const fast = fastOrderIntent(o);
    const zod = OrderIntent.safeParse(o);
    assert.equal(fast !== undefined, zod.success, JSON.stringify(o));
    if (fast !== undefined && zod.success) {
      assert.deepEqual(fast, zod.data, JSON.stringify(o));
      agreedValid++;
    }
  }
  assert.ok(agreedValid > 1_000, `only ${agreedValid} valid cases generated`);
});

test("a refused request is left to zod, so its typed error is zod's", () => {
  // serve() answers with decodeMessage's error whenever fastCheck says undefined.
  const cases = [
    null,
    [],
    "intent",
    { ...base, price: "01" },
    without("account"),
    { ...base, extra: true },
  ];
  for (const c of cases) {
    assert.equal(fastOrderIntent(c), undefined, JSON.stringify(c));
    assert.equal(OrderIntent.safeParse(c).success, false, JSON.stringify(c));
  }
});
