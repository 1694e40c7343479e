import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { test } from "node:test";
import { type MarketEvent, MarketEvent as MarketEventSchema } from "@upline/shared";
import { decimalString, parseFrame, type WsFrame } from "../src/index.ts";

const fixture = (name: string): Buffer =>
  readFileSync(resolve(import.meta.dirname, "fixtures", name));
const RECEIVED = 1_763_700_000_500;

function events(frame: WsFrame): readonly MarketEvent[] {
  assert.equal(frame.kind, "events", JSON.stringify(frame));
  return frame.kind === "events" ? frame.events : [];
}

test("decimal - writes exponent forms out in plain digits without float artefacts", () => {
  assert.equal(decimalString(4e-8), "0.00000004");
  assert.equal(decimalString(-4e-8), "-0.00000004");
  assert.equal(decimalString(1.5e21), "1500000000000000000000");
  assert.equal(decimalString(1.23e-7), "0.000000123");
  assert.equal(decimalString(0.1), "0.1");
  assert.equal(decimalString(95000000), "95000000");
  assert.equal(decimalString(-0), "0");
  assert.equal(decimalString(0.03499996), "0.03499996");
  assert.throws(() => decimalString(Number.NaN), RangeError);
});

for (const format of ["default", "simple", "json_list", "simple_list"]) {
  test(`parse - a recorded ${format} trade frame becomes the bus's Trade with decimal strings`, () => {
    const [t] = events(parseFrame(fixture(`trade.BTC-ETH.${format}.json`), RECEIVED));
    assert.deepEqual(t, {
      type: "trade",
      market: "BTC-ETH",
      exchange_ts: 1763700000000,
      received_ts: RECEIVED,
      price: "0.03499996",
      volume: "0.06545404",
      side: "ask",
      sequential_id: "1000000000010",
    });
    MarketEventSchema.parse(t);
  });

  test(`parse - a recorded ${format} ticker frame keeps tiny signed changes exact`, () => {
    const [t] = events(parseFrame(fixture(`ticker.BTC-ETH.${format}.json`), RECEIVED));
    assert.equal(t?.type, "ticker");
    if (t?.type !== "ticker") return;
    assert.equal(t.signed_change_price, "-0.00000004");
    assert.equal(t.signed_change_rate, "-0.00000114");
    assert.equal(t.change, "FALL");
    assert.equal(t.exchange_ts, 1763700000000);
    MarketEventSchema.parse(t);
  });

  test(`parse - a recorded ${format} orderbook frame is a full book best first`, () => {
    const [b] = events(parseFrame(fixture(`orderbook.KRW-BTC.${format}.json`), RECEIVED));
    assert.equal(b?.type, "orderbook");
    if (b?.type !== "orderbook") return;
    assert.equal(b.units.length, 5);
    assert.ok(Number(b.units[0]?.ask_price) < Number(b.units[1]?.ask_price));
    assert.ok(Number(b.units[0]?.bid_price) > Number(b.units[1]?.bid_price));
    assert.equal(b.level, "0");
    MarketEventSchema.parse(b);
  });
}

test("parse - a sequential_id beyond 2^53 and a text frame keep every digit", () => {
  const text = fixture("trade.big-sid.default.json").toString("utf8");
  const [t] = events(parseFrame(text, RECEIVED));
  assert.equal(t?.type, "trade");
  if (t?.type !== "trade") return;
  assert.equal(t.sequential_id, "17637000001230001");
  assert.equal(t.price, "1500000000000000000000");
  assert.equal(t.volume, "0.1");
  assert.equal(t.side, "bid");
  assert.equal(t.exchange_ts, 1763700000123);
});

test("parse - status, error and LIST_SUBSCRIPTIONS frames are recognized, not data", () => {
  assert.deepEqual(parseFrame(fixture("status.up.json"), RECEIVED), {
    kind: "status",
    status: "UP",
  });
  const err = parseFrame(fixture("error.no-codes.json"), RECEIVED);
  assert.equal(err.kind, "error");
  if (err.kind === "error") {
    assert.equal(err.name, "NO_CODES");
    assert.equal(err.error.code, "UPBIT_WS_ERROR");
  }
  const subs = parseFrame(fixture("list-subscriptions.default.json"), RECEIVED);
  assert.deepEqual(subs, {
    kind: "subscriptions",
    result: [{ type: "trade", codes: ["KRW-BTC"] }],
  });
});

test("parse - malformed frames come back as UPBIT_FRAME_INVALID, never thrown", () => {
  for (const name of ["malformed.truncated.json", "malformed.trade-fields.simple.json"]) {
    const f = parseFrame(fixture(name), RECEIVED);
    assert.equal(f.kind, "invalid", name);
    if (f.kind === "invalid") assert.equal(f.error.code, "UPBIT_FRAME_INVALID");
  }
  for (const raw of [
    "",
    "null",
    "42",
    "[null]",
    '{"type":7}',
    '{"type":"orderbook","code":"KRW-BTC"}',
  ]) {
    const f = parseFrame(raw, RECEIVED);
    assert.ok(f.kind === "invalid" || (f.kind === "events" && f.invalid.length > 0), raw);
  }
});

test("parse - a LIST frame mixing good, broken and unknown objects keeps the good ones", () => {
  const f = parseFrame(fixture("mixed.simple_list.json"), RECEIVED);
  assert.equal(f.kind, "events");
  if (f.kind !== "events") return;
  assert.equal(f.events.length, 1);
  assert.equal(f.invalid.length, 1);
  assert.equal(f.ignored, 1);
  assert.equal(f.events[0]?.type === "trade" && f.events[0].sequential_id, "11");
});
