/**
 * The hand-built audit records and order events (fast-encode.ts) are the schema
 * path's bytes: whenever a hand encoder answers, `encodeMessage` (with the
 * audit redaction for audit data) accepts the same input and produces the same
 * string; whatever the schema path refuses, the hand encoders refuse too; and
 * the shapes order-exec produces per order take the hand path.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { headers } from "@nats-io/transport-node";
import {
  AuditEvent,
  encodeMessage,
  OrderEvent,
  redactAuditData,
  type ServiceName,
  uuidv7,
} from "@upline/shared";
import { seededRandom } from "@upline/testkit";
import { claimKey, expectLastHeaders } from "../src/claims.ts";
import { type AuditHead, fastAuditBody, fastOrderEventBody, isoTime } from "../src/fast-encode.ts";
import { intentAuditData } from "./fixtures.ts";

/** The schema path's JSON, or undefined when it refuses. */
const schemaAudit = (head: AuditHead, data: Record<string, unknown>): string | undefined => {
  try {
    return encodeMessage(
      AuditEvent,
      { ...head, data: redactAuditData(data) } as AuditEvent,
      "test",
    );
  } catch {
    return undefined;
  }
};
const schemaEvent = (e: unknown): string | undefined => {
  try {
    return encodeMessage(OrderEvent, e as OrderEvent, "test");
  } catch {
    return undefined;
  }
};

/** Seeded, so a failure can be replayed. */
function rng(seed: number) {
  const next = seededRandom(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(next() * xs.length)] as T;
  return { next, pick };
}

const head = (over: Partial<AuditHead> = {}): AuditHead => {
  const now = Date.UTC(2026, 10, 22, 1, 2, 3, 456);
  return {
    id: uuidv7(now),
    ts: new Date(now).toISOString(),
    service: "order-exec",
    kind: "order_submit",
    outcome: "ok",
    ...over,
  };
};

const intentData = intentAuditData;

test("fast-encode - order-exec's per-order audit records take the hand path with the schema's bytes", () => {
  const records: [Partial<AuditHead>, Record<string, unknown>][] = [
    [{ kind: "order_submit" }, intentData],
    [{ kind: "order_submit" }, { ...intentData, time_in_force: "ioc" }],
    [
      { kind: "order_response", outcome: "ok" },
      {
        ...intentData,
        status: "accepted",
        uuid: "0191e7a4-1b2c-7d3e-8f40-123456789abc",
        code: undefined,
        exchange_error: undefined,
      },
    ],
    [
      { kind: "order_response", outcome: "error" },
      { ...intentData, status: "rejected", code: "UPBIT_REST_REJECTED", exchange_error: "x_y" },
    ],
    [{ kind: "order_submit" }, { ...intentData, resubmit: true, reason: "proven absent" }],
    [
      { kind: "order_refused", outcome: "denied" },
      { ...intentData, code: "ORDER_RATE_CAPPED", reason: 'more than 5 intents "per" second' },
    ],
    [
      { kind: "order_recovery", trace_id: "0af7651916cd43dd8448eb211c80319c" },
      { at: 1.5, n: -0 },
    ],
    [{ actor: 'ops "anna"\n' }, {}],
  ];
  for (const [over, data] of records) {
    const h = head(over);
    const fast = fastAuditBody(h, data);
    assert.notEqual(fast, undefined, JSON.stringify({ h, data }));
    assert.equal(fast, schemaAudit(h, data));
  }
});

test("fast-encode - audit records the hand path cannot vouch for go to the schema path", () => {
  const refused: [Partial<AuditHead>, Record<string, unknown>][] = [
    [{}, { token: "abc" }],
    [{}, { Authorization: "x" }],
    [{}, { note: "Bearer abc.def" }],
    [{}, { note: "eyJhbGciOiJI.eyJzdWIiOiIx.sig" }],
    [{}, { nested: { a: 1 } }],
    [{}, { list: ["a"] }],
    [{}, { n: null }],
    [{}, { n: Number.NaN }],
    [{}, { "a-b": "x" }],
    [{}, JSON.parse('{"__proto__":"x"}') as Record<string, unknown>],
    [{ kind: "Order" }, {}],
    [{ outcome: "maybe" }, {}],
    [{ id: "not-a-uuid" }, {}],
    [{ ts: "2026-11-22T01:02:03Z" }, {}],
    [{ trace_id: "XYZ" }, {}],
    [{ service: "nobody" as ServiceName }, {}],
  ];
  for (const [over, data] of refused)
    assert.equal(fastAuditBody(head(over), data), undefined, JSON.stringify({ over, data }));
});

test("fast-encode - a kept envelope is only reused for its own service, kind and outcome", () => {
  // Interleaved so that each triple meets the others' kept envelopes.
  const heads: [Partial<AuditHead>, boolean][] = [
    [{ kind: "order_submit", outcome: "ok" }, true],
    [{ kind: "order_submit", outcome: "OK" }, false],
    [{ kind: "order_submit", service: "nobody" as ServiceName }, false],
    [{ kind: "order_submit", service: "signer" }, true],
    [{ kind: "order_submit", outcome: "error" }, true],
    [{ kind: "order_submit", outcome: "denied", service: "signer" }, true],
    [{ kind: "order_submit", outcome: "ok" }, true],
    [{ kind: "Order_submit", outcome: "ok" }, false],
    [{ kind: "order_submit", outcome: "" }, false],
  ];
  for (let round = 0; round < 3; round++)
    for (const [over, ok] of heads) {
      const h = head(over);
      const fast = fastAuditBody(h, intentData);
      if (!ok) assert.equal(fast, undefined, JSON.stringify(over));
      else assert.equal(fast, schemaAudit(h, intentData), JSON.stringify(over));
    }
});

test("fast-encode - generated audit records: the hand path answers only with the schema's bytes", () => {
  const r = rng(0x5eed);
  const keys = [
    "client_order_id",
    "price",
    "status",
    "code",
    "reason",
    "at",
    "_x",
    "a1",
    "token",
    "Token",
    "SECRET",
    "secret_key",
    "jwt",
    "seed",
    "private_key",
    "bearer",
    "password",
    "authorization",
    "Price",
    "a b",
    "1",
    "é",
    "__proto__",
    "constructor",
  ];
  const strings = [
    "",
    "main",
    "KRW-BTC",
    "c-1.x:9",
    "0.0001",
    "with space",
    'quote"d',
    "back\\slash",
    "line\nbreak",
    "tab\t",
    "\u0000",
    "ü",
    "한국",
    "\ud800",
    "Bearer abc",
    "bearer",
    "xBEARERy",
    "eyJ",
    "eyJhbGciOiJI.eyJzdWIiOiIx.sig",
    "a/b+c=d@e",
    "</script>",
    "\u2028",
  ];
  const values: unknown[] = [
    ...strings,
    0,
    -0,
    1.5,
    -7,
    1e21,
    1e-7,
    Number.MAX_SAFE_INTEGER,
    Number.NaN,
    Number.POSITIVE_INFINITY,
    true,
    false,
    null,
    undefined,
    { a: 1 },
    ["x"],
    new Date(0),
    12n,
  ];
  // Valid choices repeated so that most heads pass and the data decides.
  const kinds = [
    ...Array(12).fill("order_submit"),
    "order_response",
    "x",
    "a-b_1",
    "Order",
    "",
    "a.b",
    "9a",
  ];
  const outcomes = [...Array(8).fill("ok"), "error", "denied", "OK", ""];
  const services = [...Array(8).fill("order-exec"), "signer", "cli", "nobody"];
  let fastCount = 0;
  for (let i = 0; i < 30_000; i++) {
    const now = Math.floor(r.next() * 4e12) * (r.next() < 0.02 ? 100 : 1);
    const id = uuidv7(now % 2 ** 47);
    const h: AuditHead = {
      id: r.next() < 0.9 ? id : r.pick(["", "x", id.toUpperCase(), id.replace("-7", "-4")]),
      ts: r.next() < 0.9 ? new Date(now).toISOString() : r.pick(["", "2026-11-22", "x"]),
      service: r.pick(services) as ServiceName,
      kind: r.pick(kinds),
      outcome: r.pick(outcomes),
      ...(r.next() < 0.2
        ? {
            trace_id: r.pick([
              "0af7651916cd43dd8448eb211c80319c",
              "0AF7651916CD43DD8448EB211C80319C",
              "abc",
            ]),
          }
        : {}),
      ...(r.next() < 0.1 ? { actor: r.pick(strings) } : {}),
    };
    const data: Record<string, unknown> = r.next() < 0.03 ? Object.create(null) : {};
    const n = Math.floor(r.next() * 6);
    for (let j = 0; j < n; j++) {
      const k = r.pick(keys);
      const v = r.pick(values);
      if (k === "__proto__")
        Object.defineProperty(data, k, { value: v, enumerable: true, writable: true });
      else data[k] = v;
    }
    let fast: string | undefined;
    try {
      fast = fastAuditBody(h, data);
    } catch (err) {
      assert.fail(`hand path threw for ${String(err)}`);
    }
    if (fast === undefined) continue;
    fastCount++;
    assert.equal(fast, schemaAudit(h, data), `case ${i}`);
  }
  assert.ok(fastCount > 2_000, `the hand path answered ${fastCount} times`);
});

const accepted: OrderEvent = {
  id: "main.c-1.accepted",
  type: "accepted",
  ts: "2026-11-22T01:02:03.456Z",
  account: "main",
  market: "KRW-BTC",
  client_order_id: "c-1",
  side: "bid",
  ord_type: "limit",
  price: "90000000",
  volume: "0.0001",
  uuid: "0191e7a4-1b2c-7d3e-8f40-123456789abc",
};

test("fast-encode - order-exec's per-order events take the hand path with the schema's bytes", () => {
  const events: unknown[] = [
    accepted,
    {
      ...accepted,
      type: "rejected",
      uuid: undefined,
      error: { code: "UPBIT_REST_REJECTED", message: 'Upbit said "no"', exchange_error: "x_y" },
    },
    {
      ...accepted,
      type: "unknown",
      error: { code: "UPBIT_TIMEOUT", message: "no answer within 2000 ms" },
    },
    { id: "a", type: "open", ts: "0000-01-01T00:00:00.000Z", account: "a", market: "BTC-ETH" },
    {
      ...accepted,
      type: "partially_filled",
      executed_volume: "0.5",
      remaining_volume: "0",
      avg_price: "1.25",
    },
  ];
  for (const e of events) {
    const fast = fastOrderEventBody(e);
    assert.notEqual(fast, undefined, JSON.stringify(e));
    assert.equal(fast, schemaEvent(e));
  }
});

test("fast-encode - order events the hand path cannot vouch for go to the schema path", () => {
  const refused: unknown[] = [
    {
      ...accepted,
      type: "filled",
      fill: { trade_uuid: "t", price: "1", volume: "1", fee: "0", is_maker: true },
    },
    { ...accepted, extra: 1 },
    { ...accepted, price: "01" },
    { ...accepted, ts: "2026-02-30T00:00:00.000Z" },
    { ...accepted, ts: "2026-11-22T01:02:03Z" },
    { ...accepted, market: "krw-btc" },
    { ...accepted, account: "Main" },
    { ...accepted, client_order_id: "-x" },
    { ...accepted, error: { code: "X", message: "m", extra: 1 } },
    { ...accepted, id: "" },
    Object.assign(Object.create({ inherited: 1 }), accepted),
    null,
    [],
  ];
  for (const e of refused) assert.equal(fastOrderEventBody(e), undefined, JSON.stringify(e));
});

test("fast-encode - generated order events: the hand path answers only with the schema's bytes", () => {
  const r = rng(0xacc);
  const odd: Record<string, unknown[]> = {
    id: ["", "x", 'q"uote', "한", 1],
    type: ["accepted", "filled", "reconciled", "Accepted", "", undefined],
    ts: [
      "2026-11-22T01:02:03.456Z",
      "2024-02-29T23:59:59.999Z",
      "2023-02-29T00:00:00.000Z",
      "2026-13-01T00:00:00.000Z",
      "2026-11-22T24:00:00.000Z",
      "2026-11-22T01:02:03.4567Z",
      "2026-11-22T01:02:03+09:00",
      "+010000-01-01T00:00:00.000Z",
      "",
      0,
    ],
    account: ["main", "a_b-1", "Main", "", "-a", "a".repeat(64), "a".repeat(65)],
    market: ["KRW-BTC", "USDT-XRP", "BTC-ETH", "KRW-", "krw-btc", "KRW_BTC", ""],
    client_order_id: ["c", "A.b_c:d-9", "-x", "", "a".repeat(64), "a".repeat(65), 1, undefined],
    uuid: ["u", "", 'q"', "\n", 5, undefined],
    side: ["bid", "ask", "BID", "", undefined],
    ord_type: ["limit", "price", "market", "best", "stop", undefined],
    price: ["0", "1", "0.5", "01", "1.", ".5", "-1", "1e3", "", 1, undefined],
    volume: ["0.0001", "10", "00", "1.0", undefined],
    executed_volume: ["0", "2.5", "x", undefined],
    remaining_volume: ["0", "3", undefined],
    avg_price: ["1.25", "1,25", undefined],
    fill: [undefined, { trade_uuid: "t", price: "1", volume: "1", fee: "0", is_maker: true }],
    error: [
      undefined,
      { code: "X", message: "m" },
      { code: "X", message: "m", exchange_error: "e" },
      { code: "X", message: 'q"\n', exchange_error: undefined },
      { code: "X" },
      { code: 1, message: "m" },
      { code: "X", message: "m", more: 1 },
      null,
      "x",
    ],
    extra: [undefined, 1],
  };
  const keys = Object.keys(odd);
  let fastCount = 0;
  for (let i = 0; i < 30_000; i++) {
    const e: Record<string, unknown> = { ...accepted };
    if (r.next() < 0.3) delete e.uuid;
    const changes = Math.floor(r.next() * 3);
    for (let j = 0; j < changes; j++) {
      const k = r.pick(keys);
      if (r.next() < 0.15) delete e[k];
      else e[k] = r.pick(odd[k] as unknown[]);
    }
    if (r.next() < 0.2) {
      // A calendar-ish timestamp from random parts: valid and invalid dates and times.
      const p2 = (n: number) => String(n).padStart(2, "0");
      const year = r.pick([0, 1, 1900, 2000, 2023, 2024, 2100, 2400, 9999]);
      e.ts = `${String(year).padStart(4, "0")}-${p2(Math.floor(r.next() * 14))}-${p2(Math.floor(r.next() * 33))}T${p2(Math.floor(r.next() * 26))}:${p2(Math.floor(r.next() * 62))}:${p2(Math.floor(r.next() * 62))}.${String(Math.floor(r.next() * 1000)).padStart(3, "0")}Z`;
    }
    const input = r.next() < 0.5 ? e : (JSON.parse(JSON.stringify(e)) as Record<string, unknown>);
    const fast = fastOrderEventBody(input);
    if (fast === undefined) continue;
    fastCount++;
    assert.equal(fast, schemaEvent(input), `case ${i}: ${JSON.stringify(input)}`);
  }
  assert.ok(fastCount > 5_000, `the hand path answered ${fastCount} times`);
});

test("fast-encode - isoTime is Date#toISOString for generated, edge and odd times", () => {
  const r = rng(0x150);
  const edges = [
    0,
    1,
    999,
    86_399_999,
    86_400_000,
    951_782_400_000, // 2000-02-29
    4_107_542_400_000, // 2100-03-01
    253_402_300_799_999, // 9999-12-31T23:59:59.999Z
    253_402_300_800_000,
    -1,
    -62_135_596_800_000,
    1.5,
    8.64e15,
  ];
  for (const ms of edges) assert.equal(isoTime(ms), new Date(ms).toISOString(), String(ms));
  for (let i = 0; i < 100_000; i++) {
    const ms = Math.floor(r.next() * 253_402_300_800_000);
    assert.equal(isoTime(ms), new Date(ms).toISOString(), String(ms));
    // The one-entry cache answers a repeat with the same text.
    if (i % 1000 === 0) assert.equal(isoTime(ms), new Date(ms).toISOString());
  }
  // Runs of consecutive milliseconds across second, minute, day, leap-day and
  // year boundaries, forwards and backwards (the kept second must not leak).
  const runs = [
    Date.UTC(2026, 11, 31, 23, 59, 59, 990),
    Date.UTC(2028, 1, 28, 23, 59, 59, 995),
    Date.UTC(2026, 10, 22, 7, 30, 0, 0) - 3,
    Date.UTC(9999, 11, 31, 23, 59, 59, 990),
  ];
  for (const start of runs) {
    for (let ms = start; ms < start + 25; ms++)
      assert.equal(isoTime(ms), new Date(ms).toISOString());
    for (let ms = start + 25; ms >= start - 1005; ms -= 7)
      assert.equal(isoTime(ms), new Date(ms).toISOString(), String(ms));
  }
  assert.throws(() => isoTime(Number.NaN), RangeError);
});

test("fast-encode - claim keys: ids without . or : are kept, others escaped one-to-one", () => {
  assert.equal(claimKey("main", "abc-1_2"), "main.abc-1_2");
  assert.equal(claimKey("main", "a.b:c"), "main.a=2Eb=3Ac");
  assert.equal(claimKey("main", "a:b.c"), "main.a=3Ab=2Ec");
});

test("fast-encode - the conditional-put header block is nats.js's headers() bytes", () => {
  const r = rng(0x4ead);
  const seqs = [0, 1, 9, 10, 12_345, Number.MAX_SAFE_INTEGER];
  for (let i = 0; i < 200; i++) seqs.push(Math.floor(r.next() * 2 ** 40));
  /** What nats.js's protocol.publish calls on a header object. */
  const encoded = (h: unknown) => Buffer.from((h as { encode(): Uint8Array }).encode());
  for (const seq of seqs) {
    const h = headers();
    h.set("Nats-Expected-Last-Subject-Sequence", String(seq));
    assert.deepEqual(encoded(expectLastHeaders(seq)), encoded(h), String(seq));
  }
  for (const bad of [-1, 1.5, Number.NaN, 2 ** 60])
    assert.throws(() => expectLastHeaders(bad), RangeError);
});
