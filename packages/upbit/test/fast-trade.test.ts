/**
 * The trade fast path (fast-trade.ts) against the reference parser (parseFrame:
 * JSON.parse + zod `Trade`): whenever the fast path accepts a frame, the
 * reference accepts it too with the same Trade, and the result passes the
 * schema; on the frames the feed sees, the fast path does accept. Checked on
 * the recorded fixtures, on generated frames and on thousands of mutated ones.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { test } from "node:test";
import { Trade } from "@upline/shared";
import { seededRandom } from "@upline/testkit";
import { fastTrade, parseFrame, tradeJson } from "../src/index.ts";

const RECEIVED = 1_763_700_000_500;
const fixture = (name: string): Buffer =>
  readFileSync(resolve(import.meta.dirname, "fixtures", name));

/** The reference result: the single trade parseFrame makes of the frame, or undefined. */
function reference(buf: Buffer, receivedTs = RECEIVED): unknown {
  const f = parseFrame(buf, receivedTs);
  if (f.kind !== "events" || f.events.length !== 1 || f.invalid.length !== 0) return undefined;
  return f.events[0]?.type === "trade" ? f.events[0] : undefined;
}

/** The property: the fast path accepts only what the reference accepts, identically. */
function agrees(buf: Buffer, receivedTs = RECEIVED): "fast" | "fallback" {
  const fast = fastTrade(buf, receivedTs);
  if (fast === undefined) return "fallback";
  const ref = reference(buf, receivedTs);
  assert.deepEqual(fast, ref, `fast path disagrees on ${buf.toString()}`);
  assert.ok(Trade.safeParse(fast).success, `fast result fails the schema: ${buf.toString()}`);
  assert.equal(tradeJson(fast), JSON.stringify(fast));
  return "fast";
}

test("fast trade - recorded trade fixtures: same Trade as parseFrame, schema-valid", () => {
  for (const name of [
    "trade.BTC-ETH.default.json",
    "trade.BTC-ETH.simple.json",
    "trade.KRW-BTC.default.json",
    "trade.KRW-BTC.simple.json",
    "trade.big-sid.default.json",
  ]) {
    assert.equal(agrees(fixture(name)), "fast", name);
  }
  const big = fastTrade(fixture("trade.big-sid.default.json"), RECEIVED);
  assert.equal(big?.sequential_id, "17637000001230001");
  assert.equal(big?.price, "1500000000000000000000");
  assert.equal(big?.volume, "0.1");
});

test("fast trade - everything else falls back to parseFrame (lists, tickers, books, status, errors, malformed)", () => {
  for (const name of [
    "trade.BTC-ETH.json_list.json",
    "trade.BTC-ETH.simple_list.json",
    "ticker.BTC-ETH.simple.json",
    "ticker.BTC-ETH.default.json",
    "orderbook.KRW-BTC.simple.json",
    "orderbook.KRW-BTC.default.json",
    "status.up.json",
    "error.no-codes.json",
    "list-subscriptions.default.json",
    "malformed.trade-fields.simple.json",
    "malformed.truncated.json",
    "mixed.simple_list.json",
  ]) {
    assert.equal(fastTrade(fixture(name), RECEIVED), undefined, name);
  }
  // A bad received_ts is not the fast path's to judge.
  assert.equal(agrees(fixture("trade.KRW-BTC.simple.json"), -1), "fallback");
  assert.equal(agrees(fixture("trade.KRW-BTC.simple.json"), 1.5), "fallback");
});

// Number texts as an exchange may write them: canonical, trailing zeros, exponents, long.
const NUMBER_TEXTS = [
  "0",
  "1",
  "0.1",
  "0.10000000",
  "100002000",
  "100002000.0",
  "0.03499996",
  "4e-8",
  "4E-8",
  "1.0E-8",
  "1.5e+21",
  "1e21",
  "0.00000004",
  "0.0000001",
  "0.000001",
  "123456789012345",
  "1234567890123456",
  "12345678901234567890",
  "0.1234567890123456789",
  "95000000.00000001",
  "1e400",
  "-1",
  "-0",
  "-0.5",
  "0.30000000000000004",
  "9007199254740993",
];

function randomTradeObject(r: () => number, simple: boolean): [string, string][] {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)] as T;
  const num = () =>
    r() < 0.5
      ? pick(NUMBER_TEXTS)
      : r() < 0.5
        ? String(Math.round(r() * 1e8))
        : String(Math.round(r() * 1e8) / 1e8);
  // Mostly valid values, so that a good share of frames is accepted.
  const often = <T>(good: T, xs: readonly T[]): T => (r() < 0.6 ? good : pick(xs));
  const market = often('"KRW-BTC"', [
    '"KRW-BTC"',
    '"BTC-ETH"',
    '"USDT-XRP"',
    '"krw-btc"',
    '"K-BTC"',
    '"KRWBTC"',
  ]);
  const ts = often("1763700000000", [
    "1763700000000",
    "1763700000123",
    "0",
    "1763700000000.0",
    "-1",
    '"1"',
    "1e12",
  ]);
  const side = often('"ASK"', ['"BID"', '"ASK"', '"bid"', '"SIDE"', "null"]);
  const sid = often("1000000000009", [
    "1000000000009",
    "17637000001230001",
    "0",
    '"123"',
    '"12a"',
    '""',
    "1.5",
    "-3",
    "1e3",
    "null",
  ]);
  const tail: [string, string][] = simple
    ? [
        ["td", '"2025-11-21"'],
        ["ttm", '"04:40:00"'],
        ["pcp", num()],
        ["c", '"RISE"'],
        ["cp", num()],
        ["bap", num()],
        ["bas", num()],
        ["st", '"REALTIME"'],
        ["tms", ts],
      ]
    : [
        ["trade_date", '"2025-11-21"'],
        ["trade_time", '"04:40:00"'],
        ["prev_closing_price", num()],
        ["change", '"RISE"'],
        ["change_price", num()],
        ["best_ask_price", num()],
        ["stream_type", '"SNAPSHOT"'],
        ["timestamp", ts],
        ["market", market],
      ];
  const main: [string, string][] = simple
    ? [
        ["ty", '"trade"'],
        ["cd", market],
        ["ttms", ts],
        ["tp", num()],
        ["tv", num()],
        ["ab", side],
        ["sid", sid],
      ]
    : [
        ["type", '"trade"'],
        ["code", market],
        ["trade_timestamp", ts],
        ["trade_price", num()],
        ["trade_volume", num()],
        ["ask_bid", side],
        ["sequential_id", sid],
      ];
  const all = [...main, ...tail];
  // Shuffle sometimes: key order must not matter.
  if (r() < 0.3)
    for (let i = all.length - 1; i > 0; i--) {
      const j = Math.floor(r() * (i + 1));
      [all[i], all[j]] = [all[j] as [string, string], all[i] as [string, string]];
    }
  return all;
}

const frame = (fields: readonly [string, string][]) =>
  Buffer.from(`{${fields.map(([k, v]) => `"${k}":${v}`).join(",")}}`);

test("fast trade - generated SIMPLE and DEFAULT trades: agreement on every one, and the clean ones take the fast path", () => {
  const r = seededRandom(42);
  let fast = 0;
  for (let i = 0; i < 20_000; i++) {
    const fields = randomTradeObject(r, i % 2 === 0);
    if (agrees(frame(fields)) === "fast") fast++;
  }
  assert.ok(fast > 2_000, `only ${fast} generated frames took the fast path`);
  // A clean frame of each style always does.
  const clean = (simple: boolean) =>
    frame(
      simple
        ? [
            ["ty", '"trade"'],
            ["cd", '"KRW-BTC"'],
            ["tms", "1763700000001"],
            ["ttms", "1763700000000"],
            ["tp", "95000000"],
            ["tv", "0.00123456"],
            ["ab", '"ASK"'],
            ["sid", "17637000001230001"],
            ["st", '"REALTIME"'],
          ]
        : [
            ["type", '"trade"'],
            ["code", '"KRW-BTC"'],
            ["trade_timestamp", "1763700000000"],
            ["trade_price", "95000000"],
            ["trade_volume", "0.00123456"],
            ["ask_bid", '"BID"'],
            ["sequential_id", "17637000001230001"],
          ],
    );
  assert.equal(agrees(clean(true)), "fast");
  assert.equal(agrees(clean(false)), "fast");
});

test("fast trade - mutated and malformed frames: never accepted unless the reference accepts the same Trade", () => {
  const r = seededRandom(7);
  const seeds = [
    fixture("trade.KRW-BTC.simple.json"),
    fixture("trade.BTC-ETH.default.json"),
    fixture("trade.big-sid.default.json"),
    fixture("trade.BTC-ETH.simple.json"),
  ];
  const alphabet = Buffer.from('{}[]":,.-+eE0123456789 \t\n\\tfnulra"\u0001');
  let fallbacks = 0;
  for (let i = 0; i < 40_000; i++) {
    const base = seeds[i % seeds.length] as Buffer;
    let b = Buffer.from(base);
    const edits = 1 + Math.floor(r() * 3);
    for (let e = 0; e < edits; e++) {
      const at = Math.floor(r() * b.length);
      const op = r();
      const ch = alphabet[Math.floor(r() * alphabet.length)] as number;
      if (op < 0.3) b[at] = ch;
      else if (op < 0.55) b = Buffer.concat([b.subarray(0, at), b.subarray(at + 1)]);
      else if (op < 0.8) b = Buffer.concat([b.subarray(0, at), Buffer.of(ch), b.subarray(at)]);
      else if (op < 0.9) b = b.subarray(0, at);
      else b = Buffer.concat([b.subarray(0, at), Buffer.from("\u00e9\uffff"), b.subarray(at)]);
    }
    if (agrees(b) === "fallback") fallbacks++;
  }
  assert.ok(fallbacks > 10_000, `mutations barely fell back (${fallbacks})`);
  // Hand-picked hostile cases.
  const simple = fixture("trade.KRW-BTC.simple.json").toString();
  for (const text of [
    simple.replace('"sid":', '"sid":1,"sid":'), // repeated key (JSON.parse keeps the last)
    simple.replace('"tp":100002000', '"tp":-100002000'),
    simple.replace('"tp":100002000', '"tp":"100002000"'),
    simple.replace('"cd":"KRW-BTC"', '"cd":"KRW-BT\\u0043"'),
    simple.replace('"ab":"BID"', '"ab":"B\\u0049D"'),
    simple.replace('"ttms":1763700000000', '"ttms":null'),
    simple.replace('"ttms":1763700000000,', ""),
    simple.replace('"st":"SNAPSHOT"', '"st":{"a":1}'),
    simple.replace('"st":"SNAPSHOT"', '"st":[1,2]'),
    simple.replace('"ty":"trade"', '"ty":"trade","type":"ticker"'),
    ` ${simple}`,
    `${simple} `,
    `${simple}x`,
    `\ufeff${simple}`,
    simple.replace(":", " :"),
    simple.replace('"sid":1000000000009', '"sid":01000000000009'),
    simple.replace('"sid":1000000000009', '"sid":1000000000009.0'),
    simple.replace('"tv":0.007894', '"tv":0.007894e'),
    simple.replace('"tv":0.007894', '"tv":.007894'),
    simple.replace('"tv":0.007894', '"tv":0.'),
    simple.replace('"tv":0.007894', '"tv":tru'),
    "{}",
    "",
    "null",
  ]) {
    agrees(Buffer.from(text));
  }
});

test("fast trade - tradeJson writes what JSON.stringify writes for parsed trades", () => {
  for (const name of ["trade.KRW-BTC.json_list.json", "trade.big-sid.default.json"]) {
    const f = parseFrame(fixture(name), RECEIVED);
    assert.equal(f.kind, "events");
    if (f.kind !== "events") continue;
    for (const e of f.events) if (e.type === "trade") assert.equal(tradeJson(e), JSON.stringify(e));
  }
});
