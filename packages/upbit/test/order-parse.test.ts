/**
 * The hand-checked order answer (`fastUpbitOrder`) against the schema it
 * stands in for: wherever the hand check vouches, zod accepts with the same
 * output; whatever zod refuses, the hand check leaves to zod.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { fastUpbitOrder, parseUpbitOrder, UpbitOrder } from "../src/rest/orders.ts";

const ORDER = {
  uuid: "cdd92199-2897-4e14-9448-f923320408ad",
  side: "bid",
  ord_type: "limit",
  price: "90000000",
  state: "wait",
  market: "KRW-BTC",
  created_at: "2026-11-21T23:00:00+09:00",
  volume: "0.0001",
  remaining_volume: "0.0001",
  reserved_fee: "4.5",
  remaining_fee: "4.5",
  paid_fee: "0",
  locked: "9004.5",
  executed_volume: "0",
  trades_count: 0,
  identifier: "t-1",
  time_in_force: null,
};

/** The schema's verdict and the hand check's agree: same output, or the hand check abstains. */
function agrees(raw: unknown): "fast" | "zod" | "refused" {
  const z = UpbitOrder.safeParse(raw);
  const f = fastUpbitOrder(raw);
  if (f === undefined) return z.success ? "zod" : "refused";
  assert.ok(z.success, `hand check accepted what zod refuses: ${JSON.stringify(raw)}`);
  assert.deepStrictEqual(f, z.data, JSON.stringify(raw));
  return "fast";
}

test("order answer - the simulator's and Upbit's usual shapes are checked by hand, with zod's output", () => {
  assert.equal(agrees(ORDER), "fast");
  assert.equal(agrees(JSON.parse(JSON.stringify(ORDER))), "fast");
  assert.equal(agrees({ ...ORDER, price: 90000000, volume: 0.0001, executed_volume: 0 }), "fast");
  assert.equal(agrees({ ...ORDER, price: null, identifier: null, time_in_force: "ioc" }), "fast");
  const { trades_count: _t, identifier: _i, time_in_force: _f, ...bare } = ORDER;
  assert.equal(agrees(bare), "fast");
  assert.equal(agrees({ extra: { nested: [1] }, ...ORDER }), "fast");
  assert.equal(agrees({ ...ORDER, remaining_volume: undefined }), "fast");
  assert.equal(agrees({ ...ORDER, trades_count: 1.5 }), "fast");
  assert.deepStrictEqual(parseUpbitOrder({ ...ORDER, price: 1e21 }), {
    ...ORDER,
    price: "1e+21",
  });
});

test("order answer - everything zod refuses is refused, with zod's error", () => {
  const bad: unknown[] = [
    null,
    undefined,
    "order",
    42,
    [ORDER],
    { ...ORDER, uuid: undefined },
    { ...ORDER, uuid: 5 },
    { ...ORDER, side: "buy" },
    { ...ORDER, side: undefined },
    { ...ORDER, ord_type: null },
    { ...ORDER, state: 1 },
    { ...ORDER, market: ["KRW-BTC"] },
    { ...ORDER, created_at: undefined },
    { ...ORDER, price: true },
    { ...ORDER, price: Number.POSITIVE_INFINITY },
    { ...ORDER, volume: Number.NaN },
    { ...ORDER, remaining_volume: {} },
    { ...ORDER, executed_volume: [] },
    { ...ORDER, trades_count: "0" },
    { ...ORDER, trades_count: null },
    { ...ORDER, trades_count: Number.POSITIVE_INFINITY },
    { ...ORDER, identifier: 5 },
    { ...ORDER, time_in_force: false },
    JSON.parse(
      '{"price": 1e999, "uuid":"u","side":"bid","ord_type":"limit","state":"w","market":"m","created_at":"c"}',
    ),
  ];
  for (const raw of bad) {
    assert.equal(agrees(raw), "refused", JSON.stringify(raw));
    assert.throws(
      () => parseUpbitOrder(raw),
      (err: unknown) => {
        const z = UpbitOrder.safeParse(raw);
        assert.ok(!z.success);
        assert.equal((err as Error).message, z.error.message);
        return true;
      },
    );
  }
});

test("order answer - odd objects are left to zod", () => {
  const proto = JSON.parse(
    '{"__proto__": {"x": 1}, "uuid":"u","side":"bid","ord_type":"limit","state":"w","market":"m","created_at":"c"}',
  );
  assert.equal(fastUpbitOrder(proto), undefined);
  assert.deepStrictEqual(parseUpbitOrder(proto), UpbitOrder.parse(proto));
  const nullProto = Object.assign(Object.create(null), ORDER);
  assert.equal(fastUpbitOrder(nullProto), undefined);
  class Order {
    uuid = "u";
  }
  assert.equal(fastUpbitOrder(new Order()), undefined);
});

test("order answer - 50,000 generated bodies: the hand check accepts only what zod accepts, with the same output", () => {
  let x = 0x2545f491;
  const rnd = () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 0x1_0000_0000;
  };
  const pick = <T>(a: readonly T[]): T => a[Math.floor(rnd() * a.length)] as T;
  const values: readonly unknown[] = [
    undefined,
    null,
    "",
    "0.1",
    "abc",
    0,
    -1,
    0.1,
    1e21,
    Number.NaN,
    Number.POSITIVE_INFINITY,
    true,
    [],
    {},
    "bid",
    "ask",
  ];
  const keys = Object.keys(ORDER);
  const counts = { fast: 0, zod: 0, refused: 0 };
  for (let i = 0; i < 50_000; i++) {
    const o: Record<string, unknown> = { ...ORDER };
    const changes = Math.floor(rnd() * 3);
    for (let c = 0; c < changes; c++) {
      const r = rnd();
      if (r < 0.7) o[pick(keys)] = pick(values);
      else if (r < 0.85) delete o[pick(keys)];
      else o[`x${Math.floor(rnd() * 4)}`] = pick(values);
    }
    counts[agrees(rnd() < 0.5 ? o : JSON.parse(JSON.stringify(o)))]++;
  }
  // Every branch is exercised.
  assert.ok(counts.fast > 1_000 && counts.refused > 1_000, JSON.stringify(counts));
});
