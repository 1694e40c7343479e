import assert from "node:assert/strict";
import { performance } from "node:perf_hooks";
import { after, before, describe, test } from "node:test";
import { eventually } from "@upline/testkit";
import { type Harness, limitBuy, startHarness } from "./harness.ts";

describe("order-exec over real NATS, signer and simulator", () => {
  let h: Harness;

  before(async () => {
    h = await startHarness({ replicas: 1 });
  });
  after(async () => {
    await h?.stop();
  });

  test("order-exec - places an order and a repeated client_order_id answers with the first result", async () => {
    const intent = limitBuy();
    const first = await h.place(intent);
    assert.equal(first.status, "accepted", JSON.stringify(first));
    assert.ok(first.uuid);
    const again = await h.place(intent);
    assert.deepEqual(again, first);
    const placed = h.sim.admin
      .orders(h.accessKey)
      .filter((o) => o.identifier === intent.client_order_id);
    assert.equal(placed.length, 1);
    await eventually(() =>
      h.events.some(
        (e) =>
          e.type === "accepted" &&
          e.client_order_id === intent.client_order_id &&
          e.uuid === first.uuid,
      ),
    );
    await eventually(() =>
      h.audits.some(
        (a) => a.kind === "order_submit" && a.data.client_order_id === intent.client_order_id,
      ),
    );
  });

  test("order-exec - a 4xx is rejected with Upbit's error name and not retried", async () => {
    // A market sell of more BTC than the account holds: the exchange refuses it.
    const intent = limitBuy(undefined, {
      side: "ask",
      ord_type: "market",
      price: undefined,
      volume: "5000",
    });
    const reply = await h.place(intent);
    assert.equal(reply.status, "rejected", JSON.stringify(reply));
    assert.equal(reply.error?.code, "UPBIT_REST_REJECTED");
    assert.match(
      reply.error?.exchange_error ?? "",
      /insufficient_funds_ask|volume_too_large|over_krw_funds_ask/,
    );
    const again = await h.place(intent);
    assert.deepEqual(again, reply);
  });

  test("order-exec - bad intents get typed rejections and audit records; the service keeps running", async () => {
    const cases: [string, string | Uint8Array, string][] = [
      ["wrong type", JSON.stringify({ ...limitBuy(), price: 90000000 }), "MESSAGE_INVALID"],
      ["missing field", JSON.stringify({ ...limitBuy(), market: undefined }), "MESSAGE_INVALID"],
      ["not JSON", "{nope", "MESSAGE_DECODE"],
      [
        "oversized",
        JSON.stringify({ ...limitBuy(), pad: "x".repeat(70_000) }),
        "MESSAGE_TOO_LARGE",
      ],
    ];
    for (const [what, body, code] of cases) {
      const r = await h.raw(h.subjects.orders.place, body);
      assert.equal(r.code, code, what);
    }
    const typed: [string, Record<string, unknown>, string][] = [
      ["unknown market", limitBuy(undefined, { market: "KRW-DOGE" }), "ORDER_MARKET_NOT_ALLOWED"],
      ["off-tick price", limitBuy(undefined, { price: "90000500" }), "ORDER_PRICE_OFF_TICK"],
      ["below minimum total", limitBuy(undefined, { volume: "0.00001" }), "ORDER_TOTAL_TOO_SMALL"],
      [
        "expired",
        limitBuy(undefined, { expires_at: new Date(Date.now() - 1000).toISOString() }),
        "ORDER_EXPIRED",
      ],
      ["unknown account", limitBuy(undefined, { account: "ghost" }), "ORDER_ACCOUNT_UNKNOWN"],
    ];
    for (const [what, intent, code] of typed) {
      const r = await h.place(intent);
      assert.equal(r.status, "rejected", what);
      assert.equal(r.error?.code, code, what);
    }
    await eventually(() => {
      const codes = new Set(h.audits.map((a) => a.data.code));
      for (const c of [
        "MESSAGE_INVALID",
        "MESSAGE_DECODE",
        "MESSAGE_TOO_LARGE",
        "ORDER_MARKET_NOT_ALLOWED",
        "ORDER_PRICE_OFF_TICK",
        "ORDER_TOTAL_TOO_SMALL",
        "ORDER_EXPIRED",
      ])
        assert.ok(codes.has(c), `audit record with ${c}`);
      return true;
    });
    const ok = await h.place(limitBuy());
    assert.equal(ok.status, "accepted");
  });

  test("order-exec - get, cancel one, cancel by ids, cancel-and-new and cancel-all", async () => {
    const a = await h.place(limitBuy());
    const b = await h.place(limitBuy());
    const c = await h.place(limitBuy());
    const d = await h.place(limitBuy());
    const got = await h.get({ account: "main", uuid: a.uuid });
    assert.equal(got.state, "wait");
    assert.equal(got.client_order_id, a.client_order_id);
    const one = await h.cancel({ account: "main", client_order_id: a.client_order_id });
    assert.equal(one.status, "accepted", JSON.stringify(one));
    assert.equal(one.cancelled[0]?.uuid, a.uuid);
    const many = await h.cancel({ account: "main", uuids: [b.uuid] });
    assert.equal(many.cancelled.length, 1, JSON.stringify(many));
    const newId = `${c.client_order_id}-r`;
    const replaced = await h.cancel({
      account: "main",
      uuid: c.uuid,
      replace_with: {
        client_order_id: newId,
        ord_type: "limit",
        price: "89000000",
        volume: "0.0001",
      },
    });
    assert.equal(replaced.status, "accepted", JSON.stringify(replaced));
    assert.ok(replaced.new_uuid);
    const all = await h.cancel({ account: "main", all: true });
    assert.equal(all.status, "accepted", JSON.stringify(all));
    assert.ok(all.cancelled.some((x) => x.uuid === d.uuid));
    await assert.rejects(
      h.get({ account: "main", client_order_id: "never-placed" }),
      (err: { code?: string }) => err.code === "ORDER_NOT_FOUND",
    );
  });

  test("order-exec - halted: new orders refused within 100 ms, cancels pass, the signer refuses too", async () => {
    const resting = await h.place(limitBuy());
    assert.equal(resting.status, "accepted");
    const t0 = performance.now();
    await h.setTrading("halted");
    let refusedAt = 0;
    await eventually(
      async () => {
        const r = await h.place(limitBuy());
        if (r.status === "accepted") return false;
        assert.equal(r.error?.code, "ORDER_TRADING_HALTED");
        refusedAt = performance.now();
        return true;
      },
      { intervalMs: 1, timeoutMs: 2_000 },
    );
    assert.ok(refusedAt - t0 < 100, `refused after ${Math.round(refusedAt - t0)} ms`);
    const cancelled = await h.cancel({ account: "main", uuid: resting.uuid });
    assert.equal(cancelled.status, "accepted", JSON.stringify(cancelled));
    await assert.rejects(
      h.client.sign({
        keyId: "main",
        method: "POST",
        path: "/v1/orders",
        body: {
          market: "KRW-BTC",
          side: "bid",
          ord_type: "limit",
          price: "90000000",
          volume: "0.0001",
        },
      }),
      (err: { code?: string }) => err.code === "SIGNER_TRADING_HALTED",
    );
    await h.setTrading("reducing");
    await eventually(
      async () => (await h.place(limitBuy())).error?.code === "ORDER_TRADING_HALTED",
    );
    await h.setTrading("active");
    await eventually(async () => (await h.place(limitBuy())).status === "accepted");
  });
});

describe("order-exec private WebSocket", () => {
  let h: Harness;

  before(async () => {
    h = await startHarness({ replicas: 1, privateWs: true, sim: { rateLimits: false } });
  });
  after(async () => {
    await h?.stop();
  });

  test("order-exec - fills from myOrder become order events; open orders are reconciled on start and after a reconnect", async () => {
    await eventually(() => (h.execs[0]?.reconciled().main ?? 0) >= 1, {
      message: "reconciled on start",
    });
    const resting = await h.place(limitBuy());
    assert.equal(resting.status, "accepted");
    const crossing = await h.place(limitBuy(undefined, { price: "110000000" }));
    assert.equal(crossing.status, "accepted", JSON.stringify(crossing));
    await eventually(() =>
      h.events.some(
        (e) =>
          e.uuid === crossing.uuid &&
          (e.type === "filled" || e.type === "partially_filled") &&
          e.id.startsWith(`${crossing.uuid}.`),
      ),
    );
    const fill = h.events.find((e) => e.uuid === crossing.uuid && e.fill !== undefined);
    assert.ok(fill?.fill?.trade_uuid, "a fill carries its trade");
    h.sim.admin.disconnectWebSockets();
    await eventually(() => (h.execs[0]?.reconciled().main ?? 0) >= 2, {
      message: "reconciled after the reconnect",
      timeoutMs: 15_000,
    });
    await eventually(() =>
      h.events.some((e) => e.type === "reconciled" && e.uuid === resting.uuid),
    );
  });

  test("order-exec - a fill the private socket never delivered is published after the reconnect, with its trade, once", async () => {
    await eventually(() => h.execs[0]?.ready() === true, {
      message: "ready (private feed reconciled)",
    });
    const before = h.execs[0]?.reconciled().main ?? 0;
    // The socket stays open but hears nothing: the fill happens unseen.
    h.sim.admin.setFaults({ wsStall: true });
    const crossing = await h.place(limitBuy(undefined, { price: "110000000" }));
    assert.equal(crossing.status, "accepted", JSON.stringify(crossing));
    const simFills = h.sim.admin.fills().filter((f) => f.orderUuid === crossing.uuid);
    assert.ok(simFills.length > 0, "the simulator filled the order");
    h.sim.admin.clearFaults();
    h.sim.admin.disconnectWebSockets();
    await eventually(() => (h.execs[0]?.reconciled().main ?? 0) > before, {
      message: "reconciled after the reconnect",
      timeoutMs: 15_000,
    });
    const fills = await eventually(
      () => {
        const f = h.events.filter((e) => e.uuid === crossing.uuid && e.fill !== undefined);
        return f.length >= simFills.length && f;
      },
      { message: "every fill published" },
    );
    assert.deepEqual(
      fills.map((e) => e.fill?.trade_uuid).sort(),
      simFills.map((f) => f.tradeUuid).sort(),
      "the fills are the simulator's trades",
    );
    await eventually(() => h.events.some((e) => e.uuid === crossing.uuid && e.type === "filled"), {
      message: "the final state",
    });
    const ids = h.events.filter((e) => e.uuid === crossing.uuid).map((e) => e.id);
    assert.equal(new Set(ids).size, ids.length, `each fact once: ${ids.join(", ")}`);
  });
});
