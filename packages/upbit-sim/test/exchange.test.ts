import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { type Account, type ApiError, Exchange, type ExchangeListener } from "../src/exchange.ts";
import type { Order } from "../src/market.ts";
import { isOnTick, tickSize } from "../src/num.ts";
import type { SimFill, SimTrade } from "../src/types.ts";
import { account } from "./helpers.ts";

const T0 = Date.UTC(2026, 10, 20, 3, 0, 0);

function build(seed: number | string = 1, balances = { KRW: "100000000", BTC: "1" }) {
  const a = account({ balances });
  const b = account({ balances });
  const ex = new Exchange({
    seed,
    markets: ["KRW-BTC", "KRW-XRP", "BTC-ETH"],
    accounts: [a, b],
    now: () => T0,
    tradeLogLimit: 10_000,
    tradesPerTick: undefined,
  });
  const events = { trades: [] as SimTrade[], myOrders: [] as [string, SimFill | null][] };
  const listener: ExchangeListener = {
    trade: (_m, t) => events.trades.push(t),
    orderbook: () => {},
    myOrder: (o: Order, f) => events.myOrders.push([o.state, f]),
    myAsset: () => {},
  };
  ex.listener = listener;
  return { ex, a: ex.accounts.get(a.accessKey)!, b: ex.accounts.get(b.accessKey)!, events };
}

function place(ex: Exchange, acc: Account, req: Record<string, unknown>): Order {
  const v = ex.validate(acc, req, false);
  if ("status" in v) throw new Error(`refused: ${v.name}`);
  return ex.place(acc, v).order;
}

function refusal(ex: Exchange, acc: Account, req: Record<string, unknown>): string {
  const v = ex.validate(acc, req, false);
  return "status" in v ? (v as ApiError).name : "accepted";
}

function tape(seed: number | string, steps: number) {
  const { ex, events } = build(seed);
  const books: string[] = [];
  for (let i = 0; i < steps; i++) {
    ex.tick();
    books.push(JSON.stringify(ex.markets.get("KRW-BTC")!.book(30)));
  }
  return {
    trades: events.trades.map((t) => [t.market, t.sequentialId, t.price, t.volume, t.askBid]),
    books,
  };
}

describe("market data", () => {
  test("market - the same seed gives the same trades and books", () => {
    const one = tape(42, 200);
    const two = tape(42, 200);
    assert.ok(one.trades.length >= 200 * 3);
    assert.deepEqual(one.trades, two.trades);
    assert.deepEqual(one.books, two.books);
    assert.notDeepEqual(tape(43, 200).trades, one.trades, "another seed gives another market");
  });

  test("market - sequential ids are unique and every price sits on the tick grid", () => {
    const { ex, events } = build(3);
    for (let i = 0; i < 300; i++) ex.tick();
    const ids = new Set(events.trades.map((t) => t.sequentialId));
    assert.equal(ids.size, events.trades.length);
    for (const t of events.trades)
      assert.ok(isOnTick(t.market.split("-")[0]!, t.price), `${t.market} ${t.price}`);
    const book = ex.markets.get("KRW-BTC")!.book(30);
    assert.equal(book.asks.length, 30);
    assert.equal(book.bids.length, 30);
    assert.ok(book.asks[0]![0] > book.bids[0]![0]);
  });

  test("market - KRW tick sizes follow the 2025-07-31 table", () => {
    assert.deepEqual(
      [2_500_000, 1_500_000, 600_000, 150_000, 60_000, 20_000, 7_000, 1_500, 500, 50, 5, 0.5].map(
        (p) => tickSize("KRW", p),
      ),
      [1000, 1000, 500, 100, 50, 10, 5, 1, 1, 0.1, 0.01, 0.001],
    );
    assert.equal(tickSize("BTC", 0.03), 0.00000001);
    assert.equal(tickSize("USDT", 100_000), 0.01);
  });
});

describe("orders", () => {
  test("orders - a limit bid locks price*volume plus fee, rests, fills partly when the price crosses, then fully", () => {
    const { ex, a } = build();
    const o = place(ex, a, {
      market: "KRW-BTC",
      side: "bid",
      ord_type: "limit",
      price: "99000000",
      volume: "0.9",
    });
    assert.equal(o.state, "wait");
    assert.equal(o.locked, 89_144_550);
    assert.deepEqual(ex.balance(a, "KRW"), {
      balance: 10_855_450,
      locked: 89_144_550,
      avgBuyPrice: 0,
    });
    ex.setPrice("KRW-BTC", 98_999_000); // best ask 99M: only that level crosses, smaller than 0.9 BTC
    assert.equal(o.state, "wait");
    assert.ok(o.executedVolume > 0 && o.executedVolume < 0.9, `partial: ${o.executedVolume}`);
    ex.setPrice("KRW-BTC", 97_000_000);
    assert.equal(o.state, "done");
    assert.equal(o.executedVolume, 0.9);
    assert.equal(o.locked, 0);
    const krw = ex.balance(a, "KRW");
    assert.equal(krw.locked, 0);
    assert.equal(
      krw.balance,
      100_000_000 - 89_100_000 - 44_550,
      "maker fills at its own price, fee 0.05%",
    );
    assert.equal(ex.balance(a, "BTC").balance, 1.9);
  });

  test("orders - post_only that would take is cancelled; fok that cannot fill completely is cancelled untouched", () => {
    const { ex, a } = build();
    const ask = ex.markets.get("KRW-BTC")!.book(1).asks[0]![0];
    const po = place(ex, a, {
      market: "KRW-BTC",
      side: "bid",
      ord_type: "limit",
      price: String(ask),
      volume: "0.01",
      time_in_force: "post_only",
    });
    assert.equal(po.state, "cancel");
    assert.equal(po.executedVolume, 0);
    const fok = place(ex, a, {
      market: "KRW-BTC",
      side: "bid",
      ord_type: "limit",
      price: String(ask),
      volume: "0.9",
      time_in_force: "fok",
    });
    assert.equal(fok.state, "cancel");
    assert.equal(fok.tradesCount, 0);
    const ioc = place(ex, a, {
      market: "KRW-BTC",
      side: "bid",
      ord_type: "limit",
      price: String(ask),
      volume: "0.9",
      time_in_force: "ioc",
    });
    assert.equal(ioc.state, "cancel");
    assert.ok(ioc.executedVolume > 0 && ioc.executedVolume < 0.9);
    assert.equal(ex.balance(a, "KRW").locked, 0, "nothing stays locked");
  });

  test("orders - a market sell walks the bids and a price buy spends its funds", () => {
    const { ex, a, events } = build();
    const sell = place(ex, a, {
      market: "KRW-BTC",
      side: "ask",
      ord_type: "market",
      volume: "0.8",
    });
    assert.equal(sell.state, "done");
    assert.ok(sell.tradesCount >= 2, "more than one level");
    assert.equal(ex.balance(a, "BTC").balance, 0.2);
    assert.ok(events.trades.every((t) => t.askBid === "ASK"));
    const buy = place(ex, a, {
      market: "KRW-BTC",
      side: "bid",
      ord_type: "price",
      price: "1000000",
    });
    assert.ok(buy.state === "done" || buy.state === "cancel");
    assert.ok(Math.abs(buy.executedFunds - 1_000_000) < 200, `${buy.executedFunds}`);
    assert.equal(ex.balance(a, "KRW").locked, 0);
  });

  test("orders - best orders need ioc or fok and take the best opposite level", () => {
    const { ex, a } = build();
    assert.equal(
      refusal(ex, a, { market: "KRW-BTC", side: "bid", ord_type: "best", price: "100000" }),
      "invalid_time_in_force",
    );
    const o = place(ex, a, {
      market: "KRW-BTC",
      side: "ask",
      ord_type: "best",
      volume: "0.001",
      time_in_force: "ioc",
    });
    assert.equal(o.state, "done");
  });

  test("orders - refusals carry Upbit's error names", () => {
    const { ex, a } = build();
    const base = { market: "KRW-BTC", side: "bid", ord_type: "limit", volume: "0.001" };
    assert.equal(refusal(ex, a, { ...base, price: "99000500" }), "invalid_price_bid");
    assert.equal(refusal(ex, a, { ...base, price: "1000", volume: "1" }), "under_min_total_bid");
    assert.equal(
      refusal(ex, a, { ...base, price: "100000000", volume: "11" }),
      "over_krw_funds_bid",
    );
    assert.equal(
      refusal(ex, a, { ...base, price: "90000000", volume: "2" }),
      "insufficient_funds_bid",
    );
    assert.equal(
      refusal(ex, a, { ...base, side: "ask", price: "90000000", volume: "2" }),
      "insufficient_funds_ask",
    );
    assert.equal(
      refusal(ex, a, {
        market: "KRW-BTC",
        side: "ask",
        ord_type: "market",
        volume: "0.1",
        price: "1",
      }),
      "create_ask_error",
    );
    assert.equal(
      refusal(ex, a, {
        ...base,
        price: "90000000",
        time_in_force: "post_only",
        smp_type: "cancel_maker",
      }),
      "invalid_post_only",
    );
    assert.equal(
      refusal(ex, a, { ...base, price: "90000000", time_in_force: "gtc" }),
      "invalid_time_in_force",
    );
    assert.equal(refusal(ex, a, { ...base, market: "KRW-NOPE", price: "100" }), "notfoundmarket");
    assert.equal(refusal(ex, a, { ...base, side: "buy", price: "100" }), "validation_error");
    ex.offline.add("KRW-BTC");
    assert.equal(refusal(ex, a, { ...base, price: "90000000" }), "market_offline");
  });

  test("orders - an identifier is never reusable, even after a failed or cancelled order", () => {
    const { ex, a, b } = build();
    assert.equal(
      refusal(ex, a, {
        market: "KRW-BTC",
        side: "bid",
        ord_type: "limit",
        price: "90000000",
        volume: "5",
        identifier: "id-1",
      }),
      "insufficient_funds_bid",
    );
    assert.equal(
      refusal(ex, a, {
        market: "KRW-BTC",
        side: "bid",
        ord_type: "limit",
        price: "90000000",
        volume: "0.01",
        identifier: "id-1",
      }),
      "duplicated_identifier",
    );
    const o = place(ex, a, {
      market: "KRW-BTC",
      side: "bid",
      ord_type: "limit",
      price: "90000000",
      volume: "0.01",
      identifier: "id-2",
    });
    ex.cancel(o);
    assert.equal(
      refusal(ex, a, {
        market: "KRW-BTC",
        side: "bid",
        ord_type: "limit",
        price: "90000000",
        volume: "0.01",
        identifier: "id-2",
      }),
      "duplicated_identifier",
    );
    assert.equal(
      refusal(ex, b, {
        market: "KRW-BTC",
        side: "bid",
        ord_type: "limit",
        price: "90000000",
        volume: "0.01",
        identifier: "id-2",
      }),
      "accepted",
      "per account",
    );
  });

  test("orders - two accounts trade with each other; the resting side is the maker", () => {
    const { ex, a, b, events } = build();
    const m = ex.markets.get("KRW-BTC")!;
    const inside = m.mid; // inside the spread
    const maker = place(ex, a, {
      market: "KRW-BTC",
      side: "ask",
      ord_type: "limit",
      price: String(inside),
      volume: "0.01",
    });
    assert.equal(m.book(1).asks[0]![0], inside, "the resting order is the best ask");
    const taker = place(ex, b, {
      market: "KRW-BTC",
      side: "bid",
      ord_type: "limit",
      price: String(inside),
      volume: "0.01",
    });
    assert.equal(maker.state, "done");
    assert.equal(taker.state, "done");
    const fills = ex.fills.filter((f) => f.price === inside);
    assert.deepEqual(
      fills.map((f) => [f.accessKey, f.isMaker]).sort(),
      [
        [a.key.accessKey, true],
        [b.key.accessKey, false],
      ].sort(),
    );
    assert.ok(events.myOrders.some(([s, f]) => s === "done" && f === null));
  });

  test("orders - SMP cancel_maker cancels the account's own resting order instead of trading with it", () => {
    const { ex, a } = build();
    const m = ex.markets.get("KRW-BTC")!;
    const inside = m.mid;
    const maker = place(ex, a, {
      market: "KRW-BTC",
      side: "ask",
      ord_type: "limit",
      price: String(inside),
      volume: "0.01",
    });
    const taker = place(ex, a, {
      market: "KRW-BTC",
      side: "bid",
      ord_type: "limit",
      price: String(inside),
      volume: "0.01",
      smp_type: "cancel_maker",
    });
    assert.equal(maker.state, "cancel");
    assert.equal(maker.preventedVolume, 0.01);
    assert.equal(maker.executedVolume, 0);
    assert.equal(taker.state, "wait", "nothing else at that price: the taker rests");
    assert.equal(ex.fills.length, 0);
  });
});
