import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { type Sim, startSim } from "../src/index.ts";
import { account, call, manualClock, token, WsProbe } from "./helpers.ts";

describe("public WebSocket", () => {
  let sim: Sim;
  const clock = manualClock();
  const probes: WsProbe[] = [];
  const open = async () => {
    clock.advance(1000); // fresh connect and message budgets
    const p = await WsProbe.open(sim.wsUrl);
    probes.push(p);
    return p;
  };
  before(async () => {
    sim = await startSim({
      seed: 9,
      markets: ["KRW-BTC", "KRW-ETH"],
      now: clock.now,
      wsIdleMs: 120_000,
    });
    sim.admin.tick(3);
  });
  after(async () => {
    for (const p of probes) p.close();
    await sim.stop();
  });

  test("ws - snapshot then realtime, as binary frames of JSON, for ticker, trade and orderbook", async () => {
    const p = await open();
    p.send([
      { ticket: "t1" },
      { type: "ticker", codes: ["KRW-BTC"] },
      { type: "trade", codes: ["KRW-BTC"] },
      { type: "orderbook", codes: ["KRW-BTC.5"] },
    ]);
    await p.until((x) => x.frames.length >= 3);
    const snaps = p.json().slice(0, 3);
    assert.deepEqual(
      snaps.map((m) => [m.type, m.stream_type]),
      [
        ["ticker", "SNAPSHOT"],
        ["trade", "SNAPSHOT"],
        ["orderbook", "SNAPSHOT"],
      ],
    );
    assert.equal(snaps[2].orderbook_units.length, 5, ".5 depth suffix");
    assert.ok(p.frames.every((f) => f.binary));
    sim.admin.tick(1);
    await p.until((x) =>
      x.json().some((m) => m.stream_type === "REALTIME" && m.type === "orderbook"),
    );
    const live = p.json().filter((m) => m.stream_type === "REALTIME");
    assert.ok(live.some((m) => m.type === "trade" && typeof m.sequential_id === "number"));
    assert.ok(live.some((m) => m.type === "ticker" && m.code === "KRW-BTC"));
    assert.ok(
      live.every((m) => m.code === "KRW-BTC"),
      "only the subscribed code",
    );
  });

  test("ws - the realtime trades equal the admin trade log", async () => {
    const p = await open();
    p.send([{ ticket: "t2" }, { type: "trade", codes: ["KRW-ETH"], is_only_realtime: true }]);
    await p.until(() => sim.admin.counters().wsConnections >= 1);
    // The subscription is registered synchronously on the server when the message arrives; drive a round trip first.
    p.send("PING");
    await p.until((x) => x.json().some((m) => m?.status === "UP"));
    const before = sim.admin.trades("KRW-ETH").length;
    sim.admin.tick(10);
    const expected = sim.admin
      .trades("KRW-ETH")
      .slice(before)
      .map((t) => t.sequentialId);
    await p.until((x) => x.json().filter((m) => m.type === "trade").length >= expected.length);
    assert.deepEqual(
      p
        .json()
        .filter((m) => m.type === "trade")
        .map((m) => m.sequential_id),
      expected,
    );
  });

  test("ws - SIMPLE, JSON_LIST and SIMPLE_LIST formats; is_only_snapshot sends one message", async () => {
    const p = await open();
    p.send([
      { ticket: "t3" },
      { type: "ticker", codes: ["KRW-BTC"], is_only_snapshot: true },
      { format: "SIMPLE" },
    ]);
    await p.until((x) => x.frames.length >= 1);
    const m = p.json()[0];
    assert.equal(m.ty, "ticker");
    assert.equal(m.cd, "KRW-BTC");
    assert.equal(m.st, "SNAPSHOT");
    assert.equal(typeof m.tp, "number");
    const l = await open();
    l.send([
      { ticket: "t4" },
      { type: "trade", codes: ["KRW-BTC"], is_only_snapshot: true },
      { format: "SIMPLE_LIST" },
    ]);
    await l.until((x) => x.frames.length >= 1);
    assert.ok(Array.isArray(l.json()[0]));
    assert.equal(l.json()[0][0].ty, "trade");
    const j = await open();
    j.send([
      { ticket: "t5" },
      { type: "trade", codes: ["KRW-BTC"], is_only_snapshot: true },
      { format: "JSON_LIST" },
    ]);
    await j.until((x) => x.frames.length >= 1);
    assert.equal(j.json()[0][0].type, "trade");
    sim.admin.tick(2);
    p.send("PING");
    await p.until((x) => x.json().some((v) => v?.status === "UP"));
    assert.equal(
      p.json().filter((v) => v?.ty === "ticker").length,
      1,
      "no realtime after is_only_snapshot",
    );
  });

  test("ws - LIST_SUBSCRIPTIONS lists the current set; a new request replaces it", async () => {
    const p = await open();
    p.send([{ ticket: "a" }, { type: "trade", codes: ["KRW-BTC"], is_only_realtime: true }]);
    p.send([{ ticket: "b" }, { type: "orderbook", codes: ["KRW-ETH.15"], is_only_realtime: true }]);
    p.send([{ ticket: "c" }, { method: "LIST_SUBSCRIPTIONS" }]);
    await p.until((x) => x.json().some((m) => m?.method === "LIST_SUBSCRIPTIONS"));
    const list = p.json().find((m) => m?.method === "LIST_SUBSCRIPTIONS");
    assert.deepEqual(list, {
      method: "LIST_SUBSCRIPTIONS",
      result: [{ type: "orderbook", codes: ["KRW-ETH.15"] }],
      ticket: "c",
    });
  });

  test("ws - error objects: NO_TICKET, WRONG_FORMAT, NO_CODES, INVALID_PARAM, INVALID_AUTH", async () => {
    const p = await open();
    const cases: [unknown, string][] = [
      [[{ type: "ticker", codes: ["KRW-BTC"] }], "NO_TICKET"],
      ["{not json", "WRONG_FORMAT"],
      [[{ ticket: "x" }, { type: "ticker" }], "NO_CODES"],
      [[{ ticket: "x" }, { type: "nope", codes: ["KRW-BTC"] }], "INVALID_PARAM"],
      [[{ ticket: "x" }, { type: "myOrder" }], "INVALID_AUTH"],
    ];
    for (const [msg, _] of cases) p.send(msg);
    await p.until((x) => x.frames.length >= cases.length);
    assert.deepEqual(
      p.json().map((m) => m.error.name),
      cases.map(([, n]) => n),
    );
  });

  test("ws - more than 5 messages in a second get Too Many Requests", async () => {
    const p = await open();
    for (let i = 0; i < 6; i++)
      p.send([{ ticket: `r${i}` }, { type: "ticker", codes: ["KRW-BTC"], is_only_realtime: true }]);
    p.send("PING");
    await p.until((x) => x.json().some((m) => m?.status === "UP"));
    assert.equal(p.json().filter((m) => m?.error?.name === "Too Many Requests").length, 1);
  });

  test("ws - an idle connection is closed after the idle time", async () => {
    const p = await open();
    clock.advance(121_000);
    await p.until((x) => x.closed !== null);
    assert.equal(p.closed?.code, 1000);
  });

  test("ws - faults: stall, duplicate, reorder and disconnect", async () => {
    const p = await open();
    p.send([{ ticket: "f" }, { type: "trade", codes: ["KRW-BTC"], is_only_realtime: true }]);
    p.send("PING");
    await p.until((x) => x.json().some((m) => m?.status === "UP"));
    const trades = () =>
      p
        .json()
        .filter((m) => m?.type === "trade")
        .map((m) => m.sequential_id as number);
    sim.admin.setFaults({ wsStall: true });
    sim.admin.tick(3);
    p.send("PING");
    await p.until((x) => x.json().filter((m) => m?.status === "UP").length >= 2);
    assert.equal(trades().length, 0, "stalled: open but silent");
    sim.admin.setFaults({ wsStall: false, wsDuplicate: true });
    const from = sim.admin.trades("KRW-BTC").length;
    sim.admin.tick(2);
    const ids = sim.admin
      .trades("KRW-BTC")
      .slice(from)
      .map((t) => t.sequentialId);
    await p.until(() => trades().length >= ids.length * 2);
    assert.deepEqual(
      trades(),
      ids.flatMap((id) => [id, id]),
    );
    sim.admin.setFaults({ wsDuplicate: false, wsReorder: true });
    const from2 = sim.admin.trades("KRW-BTC").length;
    sim.admin.tick(4);
    const ids2 = sim.admin
      .trades("KRW-BTC")
      .slice(from2)
      .map((t) => t.sequentialId);
    const even = ids2.length - (ids2.length % 2);
    await p.until(() => trades().length >= ids.length * 2 + even);
    const got = trades().slice(ids.length * 2, ids.length * 2 + even);
    const swapped = [];
    for (let i = 0; i < even; i += 2) swapped.push(ids2[i + 1], ids2[i]);
    assert.deepEqual(got, swapped);
    sim.admin.clearFaults();
    sim.admin.disconnectWebSockets();
    await p.until((x) => x.closed !== null);
    assert.equal(p.closed?.code, 1006);
  });
});

describe("private WebSocket", () => {
  let sim: Sim;
  const a = account();
  const probes: WsProbe[] = [];
  before(async () => {
    sim = await startSim({ seed: 4, markets: ["KRW-BTC"], accounts: [a], rateLimits: false });
  });
  after(async () => {
    for (const p of probes) p.close();
    await sim.stop();
  });

  test("ws - the private endpoint refuses a missing or bad token with INVALID_AUTH", async () => {
    const p = await WsProbe.open(sim.privateWsUrl);
    probes.push(p);
    await p.until((x) => x.frames.length >= 1 && x.closed !== null);
    assert.equal(p.json()[0].error.name, "INVALID_AUTH");
  });

  test("ws - myOrder reports wait, trade (trade_uuid, is_maker, identifier) and done; myAsset reports balances", async () => {
    const p = await WsProbe.open(sim.privateWsUrl, { Authorization: `Bearer ${token(a, null)}` });
    probes.push(p);
    p.send([{ ticket: "p" }, { type: "myOrder", codes: ["KRW-BTC"] }, { type: "myAsset" }]);
    p.send("PING");
    await p.until((x) => x.json().some((m) => m?.status === "UP"));
    const price = String(sim.admin.trades("KRW-BTC").at(-1)?.price ?? 100_000_000);
    const r = await call(sim, "POST", "/v1/orders", {
      key: a,
      body: {
        market: "KRW-BTC",
        side: "bid",
        ord_type: "limit",
        price: "99000000",
        volume: "0.01",
        identifier: "ws-1",
      },
    });
    assert.equal(r.status, 201, r.text);
    void price;
    sim.admin.setPrice("KRW-BTC", 98_000_000);
    await p.until((x) => x.json().some((m) => m?.type === "myOrder" && m.state === "done"));
    const orders = p.json().filter((m) => m?.type === "myOrder");
    assert.equal(orders[0].state, "wait");
    const fill = orders.find((m) => m.state === "trade");
    assert.ok(fill, "a trade event");
    assert.equal(typeof fill.trade_uuid, "string");
    assert.equal(fill.is_maker, true);
    assert.equal(fill.identifier, "ws-1");
    assert.equal(fill.ask_bid, "BID");
    const assets = p.json().filter((m) => m?.type === "myAsset");
    assert.ok(assets.length >= 1);
    assert.ok(assets.some((m) => m.assets.some((x: { currency: string }) => x.currency === "BTC")));
  });

  test("ws - myAsset with codes is WRONG_FORMAT", async () => {
    const p = await WsProbe.open(sim.privateWsUrl, { Authorization: `Bearer ${token(a, null)}` });
    probes.push(p);
    p.send([{ ticket: "p" }, { type: "myAsset", codes: ["KRW-BTC"] }]);
    await p.until((x) => x.frames.length >= 1);
    assert.equal(p.json()[0].error.name, "WRONG_FORMAT");
  });
});

describe("candle WebSocket", () => {
  let sim: Sim;
  const clock = manualClock();
  const probes: WsProbe[] = [];
  before(async () => {
    sim = await startSim({ seed: 8, markets: ["KRW-BTC"], now: clock.now });
  });
  after(async () => {
    for (const p of probes) p.close();
    await sim.stop();
  });

  test("ws - candle.1m: snapshot of the latest candle, then at most one update a second while trades change it", async () => {
    sim.admin.tick(3);
    const p = await WsProbe.open(sim.wsUrl);
    probes.push(p);
    p.send([{ ticket: "c" }, { type: "candle.1m", codes: ["KRW-BTC"] }]);
    await p.until((x) => x.frames.length >= 1);
    const snap = p.json()[0];
    assert.equal(snap.type, "candle.1m");
    assert.equal(snap.stream_type, "SNAPSHOT");
    const vol = sim.admin.trades("KRW-BTC").reduce((s, t) => s + t.volume, 0);
    assert.ok(
      Math.abs(snap.candle_acc_trade_volume - vol) < 1e-6,
      "the snapshot sums this minute's trades",
    );
    clock.advance(1000);
    const seen = sim.admin.trades("KRW-BTC").length;
    sim.admin.tick(2);
    sim.admin.tick(2); // same second: no second update
    p.send("PING");
    await p.until((x) => x.json().some((m) => m?.status === "UP"));
    const live = p.json().filter((m) => m?.stream_type === "REALTIME");
    assert.equal(live.length, 1);
    assert.ok(live[0].candle_acc_trade_volume > snap.candle_acc_trade_volume);
    const newer = sim.admin
      .trades("KRW-BTC")
      .slice(seen)
      .map((t) => t.price);
    assert.ok(newer.includes(live[0].trade_price), "the update closes at a newer trade's price");
  });
});
