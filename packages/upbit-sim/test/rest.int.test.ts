import assert from "node:assert/strict";
import { after, before, beforeEach, describe, test } from "node:test";
import { type Sim, type SimAccount, startSim } from "../src/index.ts";
import { account, call, manualClock, newKeys, token } from "./helpers.ts";

const REMAINING = /^group=[a-z-]+; min=\d+; sec=\d+$/;

describe("REST quotation", () => {
  let sim: Sim;
  const clock = manualClock();
  before(async () => {
    sim = await startSim({ seed: 11, markets: ["KRW-BTC", "KRW-ETH", "BTC-ETH"], now: clock.now });
    for (let i = 0; i < 20; i++) {
      sim.admin.tick();
      clock.advance(700);
    }
  });
  after(() => sim.stop());
  beforeEach(() => clock.advance(1000));

  test("rest - market/all lists markets, with market_event when is_details=true", async () => {
    const r = await call(sim, "GET", "/v1/market/all", { params: [["is_details", "true"]] });
    assert.equal(r.status, 200);
    assert.equal(r.remaining, "group=market; min=600; sec=9");
    assert.deepEqual(
      r.json.map((m: { market: string }) => m.market),
      ["KRW-BTC", "KRW-ETH", "BTC-ETH"],
    );
    assert.equal(r.json[0].market_event.warning, false);
    const plain = await call(sim, "GET", "/v1/market/all");
    assert.equal(plain.json[0].market_event, undefined);
  });

  test("rest - ticker and ticker/all answer numbers for the requested markets", async () => {
    const r = await call(sim, "GET", "/v1/ticker", { params: [["markets", "KRW-BTC,BTC-ETH"]] });
    assert.equal(r.status, 200);
    assert.match(r.remaining!, /^group=ticker; min=600; sec=\d$/);
    assert.deepEqual(
      r.json.map((t: { market: string }) => t.market),
      ["KRW-BTC", "BTC-ETH"],
    );
    assert.equal(typeof r.json[0].trade_price, "number");
    assert.match(r.json[0].trade_date, /^\d{8}$/);
    const all = await call(sim, "GET", "/v1/ticker/all", { params: [["quote_currencies", "KRW"]] });
    assert.deepEqual(
      all.json.map((t: { market: string }) => t.market),
      ["KRW-BTC", "KRW-ETH"],
    );
  });

  test("rest - quotation errors carry integer names: 404 for an unknown code, 400 for a missing parameter", async () => {
    const unknown = await call(sim, "GET", "/v1/ticker", { params: [["markets", "KRW-NOPE"]] });
    assert.equal(unknown.status, 404);
    assert.deepEqual(unknown.json, { error: { name: 404, message: "Code not found" } });
    assert.match(unknown.remaining!, REMAINING);
    const missing = await call(sim, "GET", "/v1/orderbook");
    assert.equal(missing.status, 400);
    assert.equal(missing.json.error.name, 400);
    const badCount = await call(sim, "GET", "/v1/trades/ticks", {
      params: [
        ["market", "KRW-BTC"],
        ["count", "501"],
      ],
    });
    assert.equal(badCount.status, 400);
    assert.equal(badCount.json.error.name, 400);
  });

  test("rest - orderbook serves count levels best first; an unsupported level gives an empty array", async () => {
    const r = await call(sim, "GET", "/v1/orderbook", {
      params: [
        ["markets", "KRW-BTC"],
        ["count", "5"],
      ],
    });
    assert.equal(r.status, 200);
    assert.equal(r.remaining, "group=orderbook; min=600; sec=9");
    const units = r.json[0].orderbook_units;
    assert.equal(units.length, 5);
    assert.ok(units[0].ask_price < units[1].ask_price && units[0].bid_price > units[1].bid_price);
    assert.ok(units[0].ask_price > units[0].bid_price);
    const full = await call(sim, "GET", "/v1/orderbook", {
      params: [
        ["markets", "KRW-BTC"],
        ["count", "99"],
      ],
    });
    assert.equal(full.json[0].orderbook_units.length, 30, "out of range falls back to 30");
    const level = await call(sim, "GET", "/v1/orderbook", {
      params: [
        ["markets", "KRW-BTC"],
        ["level", "10000"],
      ],
    });
    assert.deepEqual(level.json, []);
  });

  test("rest - orderbook/instruments gives the tick size of each market", async () => {
    const r = await call(sim, "GET", "/v1/orderbook/instruments", {
      params: [["markets", "KRW-BTC,BTC-ETH"]],
    });
    assert.equal(r.status, 200);
    assert.deepEqual(r.json, [
      { market: "KRW-BTC", quote_currency: "KRW", tick_size: "1000", supported_levels: ["0"] },
      {
        market: "BTC-ETH",
        quote_currency: "BTC",
        tick_size: "0.00000001",
        supported_levels: ["0"],
      },
    ]);
  });

  test("rest - trades/ticks pages newest first by cursor without repeating a trade", async () => {
    const first = await call(sim, "GET", "/v1/trades/ticks", {
      params: [
        ["market", "KRW-BTC"],
        ["count", "5"],
      ],
    });
    assert.equal(first.status, 200);
    assert.equal(first.remaining, "group=trade; min=600; sec=9");
    assert.equal(first.json.length, 5);
    const last = first.json[4].sequential_id;
    const next = await call(sim, "GET", "/v1/trades/ticks", {
      params: [
        ["market", "KRW-BTC"],
        ["count", "5"],
        ["cursor", String(last)],
      ],
    });
    const ids = [...first.json, ...next.json].map(
      (t: { sequential_id: number }) => t.sequential_id,
    );
    assert.equal(new Set(ids).size, 10);
    assert.ok(ids.every((id, i) => i === 0 || id < ids[i - 1]!));
    const log = sim.admin.trades("KRW-BTC");
    assert.equal(log.at(-1)!.sequentialId, ids[0], "the admin log ends with the newest trade");
  });

  test("rest - candles are built from trades for every unit, newest first", async () => {
    for (const path of [
      "/v1/candles/seconds",
      "/v1/candles/minutes/1",
      "/v1/candles/minutes/240",
      "/v1/candles/days",
      "/v1/candles/weeks",
      "/v1/candles/months",
      "/v1/candles/years",
    ]) {
      const r = await call(sim, "GET", path, {
        params: [
          ["market", "KRW-BTC"],
          ["count", "2"],
        ],
      });
      assert.equal(r.status, 200, path);
      assert.equal(r.remaining?.startsWith("group=candles;"), true);
      assert.ok(r.json.length >= 1, path);
      const c = r.json[0];
      assert.ok(c.high_price >= c.low_price && c.candle_acc_trade_volume > 0, path);
      assert.match(c.candle_date_time_utc, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$/);
    }
    const bad = await call(sim, "GET", "/v1/candles/minutes/7", {
      params: [["market", "KRW-BTC"]],
    });
    assert.equal(bad.status, 400);
  });
});

describe("REST exchange", () => {
  let sim: Sim;
  const clock = manualClock();
  const a = account();
  const viewer = account({ scopes: ["view_accounts"] });
  const fenced = account({ allowedIps: ["10.9.9.9"] });
  const expired = account({ notAfter: "2020-01-01T00:00:00Z" });
  before(async () => {
    sim = await startSim({
      seed: 5,
      markets: ["KRW-BTC", "KRW-ETH"],
      accounts: [a, viewer, fenced, expired],
      now: clock.now,
    });
    sim.admin.tick(5);
  });
  after(() => sim.stop());
  // Each test starts a fresh second so budgets do not leak between tests.
  const fresh = () => clock.advance(1000);

  test("rest - accounts lists balances as decimal strings (HS512 token)", async () => {
    fresh();
    const r = await call(sim, "GET", "/v1/accounts", { key: a, alg: "HS512" });
    assert.equal(r.status, 200);
    assert.equal(r.remaining, "group=default; min=1800; sec=29");
    assert.deepEqual(
      r.json.find((x: { currency: string }) => x.currency === "KRW"),
      {
        currency: "KRW",
        balance: "100000000",
        locked: "0",
        avg_buy_price: "0",
        avg_buy_price_modified: false,
        unit_currency: "KRW",
      },
    );
  });

  const authCases: [string, () => ReturnType<typeof call>, number, string][] = [
    [
      "no_authorization_token",
      () => call(sim, "GET", "/v1/accounts"),
      401,
      "no_authorization_token",
    ],
    [
      "invalid_access_key",
      () => call(sim, "GET", "/v1/accounts", { key: newKeys() }),
      401,
      "invalid_access_key",
    ],
    [
      "expired_access_key",
      () => call(sim, "GET", "/v1/accounts", { key: expired }),
      401,
      "expired_access_key",
    ],
    [
      "no_authorization_ip",
      () => call(sim, "GET", "/v1/accounts", { key: fenced }),
      401,
      "no_authorization_ip",
    ],
    [
      "jwt_verification",
      () =>
        call(sim, "GET", "/v1/accounts", {
          authorization: `Bearer ${token(a, null, { alg: "none" })}`,
        }),
      401,
      "jwt_verification",
    ],
    [
      "invalid_query_payload",
      () =>
        call(sim, "GET", "/v1/orders/chance", {
          params: [["market", "KRW-BTC"]],
          authorization: `Bearer ${token(a, "market=KRW-ETH")}`,
        }),
      401,
      "invalid_query_payload",
    ],
    [
      "out_of_scope",
      () =>
        call(sim, "POST", "/v1/orders", {
          key: viewer,
          body: { market: "KRW-BTC", side: "bid", ord_type: "price", price: "10000" },
        }),
      401,
      "out_of_scope",
    ],
  ];
  for (const [name, run, status, errorName] of authCases)
    test(`rest - auth refusal ${name}: status, error.name and Remaining-Req`, async () => {
      fresh();
      const r = await run();
      assert.equal(r.status, status);
      assert.equal(r.json.error.name, errorName);
      assert.match(r.remaining!, REMAINING);
    });

  test("rest - a reused nonce is refused with nonce_used", async () => {
    fresh();
    const t = `Bearer ${token(a, null, { nonce: "fixed-nonce" })}`;
    assert.equal((await call(sim, "GET", "/v1/accounts", { authorization: t })).status, 200);
    const again = await call(sim, "GET", "/v1/accounts", { authorization: t });
    assert.equal(again.status, 401);
    assert.equal(again.json.error.name, "nonce_used");
  });

  test("rest - query_hash covers the decoded query: ISO offsets with %2B and repeated states[] verify", async () => {
    fresh();
    const params: [string, string][] = [
      ["market", "KRW-BTC"],
      ["states[]", "done"],
      ["states[]", "cancel"],
      ["start_time", "2026-11-19T00:00:00+09:00"],
    ];
    const r = await call(sim, "GET", "/v1/orders/closed", { key: a, params });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json, []);
  });

  test("rest - orders/chance describes fees, limits and both accounts", async () => {
    fresh();
    const r = await call(sim, "GET", "/v1/orders/chance", {
      key: a,
      params: [["market", "KRW-BTC"]],
    });
    assert.equal(r.status, 200);
    assert.equal(r.json.bid_fee, "0.0005");
    assert.equal(r.json.market.bid.min_total, "5000");
    assert.equal(r.json.market.max_total, "1000000000");
    assert.equal(r.json.ask_account.currency, "BTC");
    const bad = await call(sim, "GET", "/v1/orders/chance", {
      key: a,
      params: [["market", "KRW-NOPE"]],
    });
    assert.equal(bad.status, 400);
    assert.equal(bad.json.error.name, "notfoundmarket");
  });

  test("rest - POST orders answers 201 and the order is readable by uuid and identifier with trades", async () => {
    fresh();
    const body = {
      market: "KRW-BTC",
      side: "bid",
      ord_type: "limit",
      price: "90000000",
      volume: "0.01",
      identifier: "rest-1",
    };
    const r = await call(sim, "POST", "/v1/orders", { key: a, body });
    assert.equal(r.status, 201, r.text);
    assert.equal(r.remaining, "group=order; min=1800; sec=11");
    assert.equal(r.json.state, "wait");
    assert.equal(r.json.locked, "900450");
    assert.equal(r.json.reserved_fee, "450");
    const byUuid = await call(sim, "GET", "/v1/order", { key: a, params: [["uuid", r.json.uuid]] });
    assert.equal(byUuid.status, 200);
    assert.deepEqual(byUuid.json.trades, []);
    const byId = await call(sim, "GET", "/v1/order", {
      key: a,
      params: [["identifier", "rest-1"]],
    });
    assert.equal(byId.json.uuid, r.json.uuid);
    const dup = await call(sim, "POST", "/v1/orders", { key: a, body });
    assert.equal(dup.status, 400);
    assert.equal(dup.json.error.name, "duplicated_identifier");
    const missing = await call(sim, "GET", "/v1/order", {
      key: a,
      params: [["uuid", "00000000-0000-0000-0000-000000000000"]],
    });
    assert.equal(missing.status, 404);
    assert.equal(missing.json.error.name, "order_not_found");
  });

  test("rest - POST orders/test validates like an order but creates nothing", async () => {
    fresh();
    const before = sim.admin.orders(a.accessKey).length;
    const r = await call(sim, "POST", "/v1/orders/test", {
      key: a,
      body: {
        market: "KRW-BTC",
        side: "bid",
        ord_type: "limit",
        price: "90000000",
        volume: "0.01",
      },
    });
    assert.equal(r.status, 201);
    assert.equal(r.remaining, "group=order-test; min=600; sec=7");
    assert.equal(sim.admin.orders(a.accessKey).length, before);
    const tick = await call(sim, "POST", "/v1/orders/test", {
      key: a,
      body: {
        market: "KRW-BTC",
        side: "bid",
        ord_type: "limit",
        price: "90000500",
        volume: "0.01",
      },
    });
    assert.equal(tick.status, 400);
    assert.equal(tick.json.error.name, "invalid_price_bid");
  });

  test("rest - open, closed and by-ids listings; DELETE order answers the pre-cancel snapshot", async () => {
    fresh();
    const mk = async (id: string) =>
      (
        await call(sim, "POST", "/v1/orders", {
          key: a,
          body: {
            market: "KRW-ETH",
            side: "bid",
            ord_type: "limit",
            price: "4000000",
            volume: "0.01",
            identifier: id,
          },
        })
      ).json;
    const o1 = await mk("list-1");
    const o2 = await mk("list-2");
    const open = await call(sim, "GET", "/v1/orders/open", {
      key: a,
      params: [
        ["market", "KRW-ETH"],
        ["states[]", "wait"],
        ["limit", "1"],
        ["page", "2"],
      ],
    });
    assert.equal(open.status, 200);
    assert.equal(open.json.length, 1);
    const both = await call(sim, "GET", "/v1/orders/open", {
      key: a,
      params: [
        ["state", "wait"],
        ["states[]", "wait"],
      ],
    });
    assert.equal(both.status, 400);
    assert.equal(both.json.error.name, "invalid_parameter");
    const ids = await call(sim, "GET", "/v1/orders/uuids", {
      key: a,
      params: [
        ["uuids[]", o1.uuid],
        ["uuids[]", o2.uuid],
        ["order_by", "asc"],
      ],
    });
    assert.deepEqual(
      ids.json.map((o: { uuid: string }) => o.uuid),
      [o1.uuid, o2.uuid],
    );
    const cancel = await call(sim, "DELETE", "/v1/order", { key: a, params: [["uuid", o1.uuid]] });
    assert.equal(cancel.status, 200);
    assert.equal(cancel.json.state, "wait", "snapshot as accepted");
    const after = await call(sim, "GET", "/v1/order", { key: a, params: [["uuid", o1.uuid]] });
    assert.equal(after.json.state, "cancel");
    const closed = await call(sim, "GET", "/v1/orders/closed", {
      key: a,
      params: [
        ["market", "KRW-ETH"],
        ["state", "cancel"],
      ],
    });
    assert.deepEqual(
      closed.json.map((o: { uuid: string }) => o.uuid),
      [o1.uuid],
    );
    const byIds = await call(sim, "DELETE", "/v1/orders/uuids", {
      key: a,
      params: [
        ["identifiers[]", "list-2"],
        ["identifiers[]", "nope"],
      ],
    });
    assert.equal(byIds.status, 200);
    assert.equal(byIds.json.success.count, 1);
    assert.equal(byIds.json.failed.count, 1);
  });

  test("rest - DELETE orders/open cancels wait orders once per two seconds; cancel_and_new replaces an order", async () => {
    fresh();
    const o = (
      await call(sim, "POST", "/v1/orders", {
        key: a,
        body: {
          market: "KRW-BTC",
          side: "bid",
          ord_type: "limit",
          price: "80000000",
          volume: "0.01",
          identifier: "cn-1",
        },
      })
    ).json;
    const cn = await call(sim, "POST", "/v1/orders/cancel_and_new", {
      key: a,
      body: {
        prev_order_uuid: o.uuid,
        new_ord_type: "limit",
        new_price: "81000000",
        new_volume: "remain_only",
        new_identifier: "cn-2",
      },
    });
    assert.equal(cn.status, 201, cn.text);
    assert.equal(cn.json.uuid, o.uuid);
    assert.equal(cn.json.new_order_identifier, "cn-2");
    const replaced = await call(sim, "GET", "/v1/order", {
      key: a,
      params: [["identifier", "cn-2"]],
    });
    assert.equal(replaced.json.price, "81000000");
    assert.equal(replaced.json.volume, "0.01");
    clock.advance(2000 - (clock.now() % 2000));
    const all = await call(sim, "DELETE", "/v1/orders/open", {
      key: a,
      params: [
        ["cancel_side", "bid"],
        ["pairs", "KRW-BTC"],
      ],
    });
    assert.equal(all.status, 200, all.text);
    assert.equal(all.remaining, "group=order-cancel-all; min=600; sec=0");
    assert.ok(all.json.success.count >= 1);
    const again = await call(sim, "DELETE", "/v1/orders/open", { key: a });
    assert.equal(again.status, 429);
    assert.equal(again.remaining, "group=order-cancel-all; min=600; sec=0");
    const withBody = await call(sim, "DELETE", "/v1/order", { key: a, body: { uuid: o.uuid } });
    assert.equal(withBody.status, 400);
    assert.equal(withBody.json.error.name, "QUERY_PARAMETER_NOT_SUPPORTED");
  });

  test("rest - withdrawal endpoints answer per scope and never move funds", async () => {
    fresh();
    const list = await call(sim, "GET", "/v1/withdraws", { key: a });
    assert.equal(list.status, 200);
    const w = await call(sim, "POST", "/v1/withdraws/krw", {
      key: a,
      body: { amount: "10000", two_factor_type: "kakao" },
    });
    assert.equal(w.status, 403);
    assert.equal(w.json.error.name, "open_api_withdraw_locked");
    const denied = await call(sim, "POST", "/v1/withdraws/coin", {
      key: viewer,
      body: { currency: "BTC", amount: "1" },
    });
    assert.equal(denied.status, 401);
    assert.equal(denied.json.error.name, "out_of_scope");
    assert.ok((sim.admin.counters().requests.default ?? 0) > 0);
  });

  test("rest - 429 when a group's second is spent, then 418 with Retry-After for a client that keeps going", async () => {
    fresh();
    const statuses: number[] = [];
    const headers: (string | null)[] = [];
    for (let i = 0; i < 45; i++) {
      const r = await call(sim, "GET", "/v1/market/all");
      statuses.push(r.status);
      headers.push(r.remaining);
      if (r.status === 418) {
        assert.ok(Number(r.headers.get("retry-after")) >= 1);
        break;
      }
    }
    assert.deepEqual(statuses.slice(0, 10), Array(10).fill(200));
    assert.equal(statuses[10], 429);
    assert.equal(headers[10], "group=market; min=600; sec=0");
    assert.equal(statuses.at(-1), 418);
    const c = sim.admin.counters();
    assert.ok(c.sent429 >= 10 && c.sent418 >= 1);
    clock.advance(60_000);
  });

  test("rest - the order group allows 12 per second per pocket", async () => {
    fresh();
    const statuses: number[] = [];
    for (let i = 0; i < 13; i++)
      statuses.push(
        (
          await call(sim, "POST", "/v1/orders", {
            key: a,
            body: {
              market: "KRW-BTC",
              side: "bid",
              ord_type: "limit",
              price: "1000000",
              volume: "0.01",
            },
          })
        ).status,
      );
    assert.deepEqual(statuses, [...Array(12).fill(201), 429]);
  });
});

describe("REST faults and admin", () => {
  let sim: Sim;
  const a: SimAccount = account();
  before(async () => {
    sim = await startSim({
      seed: 2,
      markets: ["KRW-BTC"],
      accounts: [a],
      admin: true,
      rateLimits: false,
    });
  });
  after(() => sim.stop());

  const order = (id: string) =>
    call(sim, "POST", "/v1/orders", {
      key: a,
      body: {
        market: "KRW-BTC",
        side: "bid",
        ord_type: "limit",
        price: "90000000",
        volume: "0.001",
        identifier: id,
      },
    });

  test("faults - a dropped order response: the order exists, the client hears nothing", async () => {
    sim.admin.setFaults({ dropOrderResponses: 1 });
    await assert.rejects(order("drop-1"));
    const found = await call(sim, "GET", "/v1/order", {
      key: a,
      params: [["identifier", "drop-1"]],
    });
    assert.equal(found.status, 200);
    assert.equal(found.json.state, "wait");
    assert.equal((await order("drop-2")).status, 201, "only the next one was dropped");
    assert.equal(sim.admin.counters().droppedResponses, 1);
  });

  test("faults - 5xx rate, 429 storm and market offline, limited to chosen routes", async () => {
    sim.admin.setFaults({ errorRate: 1, routes: ["POST /v1/orders"] });
    const e = await order("f-1");
    assert.equal(e.status, 500);
    assert.equal(e.json.error.name, "internal_server_error");
    assert.equal(
      (await call(sim, "GET", "/v1/ticker", { params: [["markets", "KRW-BTC"]] })).status,
      200,
    );
    sim.admin.clearFaults();
    sim.admin.setFaults({ rateLimitStorm: true });
    const storm = await call(sim, "GET", "/v1/ticker", { params: [["markets", "KRW-BTC"]] });
    assert.equal(storm.status, 429);
    assert.equal(storm.remaining, "group=ticker; min=600; sec=0");
    sim.admin.clearFaults();
    sim.admin.setFaults({ marketsOffline: ["KRW-BTC"] });
    const off = await order("f-2");
    assert.equal(off.status, 403);
    assert.equal(off.json.error.name, "market_offline");
    sim.admin.clearFaults();
  });

  test("faults - a slow response outlasts a client timeout while the order is already placed", async () => {
    sim.admin.setFaults({ slowResponseMs: 300, routes: ["POST /v1/orders"] });
    const body = JSON.stringify({
      market: "KRW-BTC",
      side: "bid",
      ord_type: "limit",
      price: "90000000",
      volume: "0.001",
      identifier: "slow-1",
    });
    const hashed =
      "market=KRW-BTC&side=bid&ord_type=limit&price=90000000&volume=0.001&identifier=slow-1";
    await assert.rejects(
      fetch(`${sim.restUrl}/v1/orders`, {
        method: "POST",
        headers: {
          "Content-Type": "application/json",
          Authorization: `Bearer ${token(a, hashed)}`,
        },
        body,
        signal: AbortSignal.timeout(50),
      }),
    );
    sim.admin.clearFaults();
    assert.equal(
      sim.admin.orders(a.accessKey).find((o) => o.identifier === "slow-1")?.state,
      "wait",
    );
  });

  test("admin - HTTP API: tick, price, balance, orders, fills, trades, counters, faults, reset", async () => {
    // biome-ignore lint/suspicious/noExplicitAny: admin replies are plain JSON
    const post = (path: string, body: unknown): Promise<any> =>
      fetch(`${sim.adminUrl}${path}`, { method: "POST", body: JSON.stringify(body) }).then((r) =>
        r.json(),
      );
    // biome-ignore lint/suspicious/noExplicitAny: admin replies are plain JSON
    const get = (path: string): Promise<any> =>
      fetch(`${sim.adminUrl}${path}`).then((r) => r.json());
    await post("/tick", { n: 3 });
    assert.ok((await get("/trades?market=KRW-BTC")).length >= 3);
    await post("/balance", { accessKey: a.accessKey, currency: "KRW", balance: "5" });
    assert.equal((await call(sim, "GET", "/v1/accounts", { key: a })).json[0].balance, "5");
    await post("/price", { market: "KRW-BTC", price: 89_000_000 });
    assert.ok(
      (await get("/fills")).length >= 1,
      "resting bids at 90M filled when the price fell through them",
    );
    assert.ok((await get("/orders")).length >= 1);
    assert.equal((await post("/faults", { latencyMs: 1 })).latencyMs, 1);
    assert.deepEqual(
      await fetch(`${sim.adminUrl}/faults`, { method: "DELETE" }).then((r) => r.json()),
      {},
    );
    assert.ok((await get("/counters")).requests.order >= 1);
    await post("/reset", {});
    assert.deepEqual(await get("/orders"), []);
    assert.equal((await get("/trades?market=KRW-BTC")).length, 0);
  });
});
