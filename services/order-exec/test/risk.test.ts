import assert from "node:assert/strict";
import { test } from "node:test";
import type { OrderIntent } from "@upline/shared";
import {
  checkIntent,
  claimKey,
  DEFAULT_MAX_TOTAL,
  DEFAULT_MIN_TOTAL,
  eventFromMyOrder,
  type RiskContext,
  rateCap,
} from "../src/index.ts";
import { limitBidFields } from "./fixtures.ts";

const base: OrderIntent = {
  client_order_id: "c1",
  ...limitBidFields,
};
const ctx = (over: Partial<RiskContext> = {}): RiskContext => ({
  now: Date.parse("2026-11-21T00:00:00Z"),
  trading: "active",
  rules: { tickSize: "1000" },
  limits: {
    markets: new Set(["KRW-BTC"]),
    minTotal: DEFAULT_MIN_TOTAL,
    maxTotal: DEFAULT_MAX_TOTAL,
    maxNotional: { "KRW-BTC": "50000000" },
  },
  ...over,
});
const code = (intent: OrderIntent, c: RiskContext = ctx()) => {
  try {
    checkIntent(intent, c);
    return "ok";
  } catch (err) {
    return (err as { code: string }).code;
  }
};

test("risk - accepts a valid limit buy and refuses each rule with its own code", () => {
  assert.equal(code(base), "ok");
  assert.equal(code({ ...base, expires_at: "2026-11-20T23:59:59Z" }), "ORDER_EXPIRED");
  assert.equal(code(base, ctx({ trading: "halted" })), "ORDER_TRADING_HALTED");
  assert.equal(code(base, ctx({ trading: "reducing" })), "ORDER_TRADING_HALTED");
  assert.equal(code({ ...base, side: "ask" }, ctx({ trading: "reducing" })), "ok");
  assert.equal(code({ ...base, market: "KRW-ETH" }), "ORDER_MARKET_NOT_ALLOWED");
  assert.equal(code(base, ctx({ rules: undefined })), "ORDER_MARKET_NOT_ALLOWED");
  assert.equal(code({ ...base, price: "90000500" }), "ORDER_PRICE_OFF_TICK");
  assert.equal(code({ ...base, volume: "0.00005" }), "ORDER_TOTAL_TOO_SMALL");
  assert.equal(
    code({ ...base, volume: "1" }),
    "ORDER_TOTAL_TOO_LARGE",
    "above the market's notional",
  );
  assert.equal(
    code({ ...base, volume: "20" }, ctx({ limits: { ...ctx().limits, maxNotional: {} } })),
    "ORDER_TOTAL_TOO_LARGE",
  );
});

test("risk - exact decimals: a tick of 0.1 and totals at the boundary", () => {
  const c = ctx({ rules: { tickSize: "0.1" } });
  assert.equal(code({ ...base, price: "12.3", volume: "406.5041" }, c), "ok");
  assert.equal(code({ ...base, price: "12.35", volume: "1000" }, c), "ORDER_PRICE_OFF_TICK");
  assert.equal(
    code({ ...base, price: "5000", volume: "1" }, ctx({ rules: { tickSize: "5" } })),
    "ok",
    "exactly the minimum",
  );
  assert.equal(
    code({ ...base, ord_type: "price", price: "4999", volume: undefined }),
    "ORDER_TOTAL_TOO_SMALL",
  );
});

test("risk - the order-rate cap counts per clock second", () => {
  let s = { second: 0, count: 0 };
  const allowed: boolean[] = [];
  for (const t of [1000, 1100, 1200, 1999, 2000]) {
    const r = rateCap(s, t, 3);
    s = r.state;
    allowed.push(r.allowed);
  }
  assert.deepEqual(allowed, [true, true, true, false, true]);
});

test("order-exec - claim keys are one-to-one and valid KV keys", () => {
  assert.equal(claimKey("main", "a.b:c"), "main.a=2Eb=3Ac");
  assert.notEqual(claimKey("main", "a.b"), claimKey("main", "a:b"));
  assert.match(claimKey("main", "x_y-z.1:2"), /^[-/_=.a-zA-Z0-9]+$/);
});

test("order-exec - myOrder frames become events with stable ids; fills carry the trade", () => {
  const frame = {
    type: "myOrder",
    code: "KRW-BTC",
    uuid: "u1",
    ask_bid: "BID",
    order_type: "limit",
    state: "trade",
    trade_uuid: "t9",
    price: 90000000,
    volume: 0.00005,
    remaining_volume: 0.00005,
    executed_volume: 0.00005,
    trade_fee: 2.25,
    is_maker: true,
    identifier: "c1",
  };
  const e = eventFromMyOrder("main", frame, "2026-11-21T00:00:00.000Z");
  assert.equal(e?.id, "u1.trade.t9");
  assert.equal(e?.type, "partially_filled");
  assert.deepEqual(e?.fill, {
    trade_uuid: "t9",
    price: "90000000",
    volume: "0.00005",
    fee: "2.25",
    is_maker: true,
  });
  assert.equal(
    eventFromMyOrder(
      "main",
      { ...frame, state: "done", trade_uuid: null },
      "2026-11-21T00:00:00.000Z",
    )?.id,
    "u1.done",
  );
  assert.equal(
    eventFromMyOrder("main", { ...frame, state: "cancel" }, "2026-11-21T00:00:00.000Z")?.type,
    "cancelled",
  );
  assert.equal(
    eventFromMyOrder("main", { type: "myAsset" }, "2026-11-21T00:00:00.000Z"),
    undefined,
  );
});
