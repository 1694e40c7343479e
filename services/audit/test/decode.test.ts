/**
 * The hand-written event check (`fastAuditEvent`) against the `AuditEvent`
 * schema and `normalizeTs`: whatever it accepts, zod accepts with the same
 * output and `ts` is already normalized; `decodeEvent` (fast check, else zod)
 * equals the plain zod path on good, bad and generated bodies.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { AuditEvent, decodeMessage, isUplineError, uuidv7 } from "@upline/shared";
import { normalizeTs } from "../src/index.ts";
import { decodeEvent, fastAuditEvent } from "../src/ingest.ts";

const enc = (s: string) => new TextEncoder().encode(s);

/** The path before the fast check: zod, then normalizeTs. */
function reference(body: Uint8Array): { ok: true; value: unknown } | { ok: false; code: string } {
  try {
    const parsed = decodeMessage(AuditEvent, body, "t");
    return { ok: true, value: { ...parsed, ts: normalizeTs(parsed.ts) } };
  } catch (err) {
    return { ok: false, code: isUplineError(err) ? err.code : "INTERNAL" };
  }
}

function viaDecodeEvent(
  body: Uint8Array,
): { ok: true; value: unknown } | { ok: false; code: string } {
  try {
    const v = decodeEvent(body, () => "t");
    // the fast path returns the parsed object itself: compare as plain data
    return { ok: true, value: { ...v } };
  } catch (err) {
    return { ok: false, code: isUplineError(err) ? err.code : "INTERNAL" };
  }
}

let fastHits = 0;
function check(raw: unknown, text = JSON.stringify(raw)): void {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined; // not JSON: only the general path can answer
  }
  const fast = fastAuditEvent(parsed);
  if (fast !== undefined) {
    fastHits++;
    const z = AuditEvent.safeParse(JSON.parse(text));
    assert.ok(z.success, `fast accepted what zod refuses: ${text}`);
    assert.equal(normalizeTs(z.data.ts), fast.ts, `ts not in stored form: ${text}`);
    assert.deepEqual({ ...fast }, { ...z.data }, text);
  }
  const body = enc(text ?? "undefined");
  assert.deepEqual(viaDecodeEvent(body), reference(body), text);
}

const good = () => ({
  id: uuidv7(),
  ts: "2026-11-22T01:02:03.456Z",
  service: "order-exec",
  kind: "order_placed",
  outcome: "ok",
  trace_id: "0123456789abcdef0123456789abcdef",
  data: { client_order_id: "c-1", market: "KRW-BTC", n: 1, nested: { a: [1, "x", null] } },
});

test("decode - well-formed events take the fast check and equal zod's output", () => {
  fastHits = 0;
  const base = good();
  check(base);
  const { trace_id: _t, ...noTrace } = base;
  check(noTrace);
  check({ ...base, actor: "operator@example" });
  check({ ...base, actor: "" });
  check({ ...base, data: {} });
  check({ ...base, id: base.id.toUpperCase() });
  for (const service of ["market-feed", "order-exec", "signer", "audit", "cli"])
    check({ ...base, service });
  for (const outcome of ["ok", "error", "denied"]) check({ ...base, outcome });
  for (const kind of ["a", "z9", "x_y-z", "order_placed"]) check({ ...base, kind });
  for (const ts of [
    "2024-02-29T23:59:59.999Z",
    "2000-02-29T00:00:00.000Z",
    "0000-02-29T00:00:00.000Z",
    "1970-01-01T00:00:00.000Z",
    "9999-12-31T23:59:59.999Z",
    "2026-04-30T12:00:00.000Z",
  ])
    check({ ...base, ts });
  // integer-like keys in data: zod's record and JSON.parse order them alike
  check({ ...base, data: { b: 1, "2": 2, a: 3, "1": 4, "-1": 5, "1.5": 6 } });
  assert.ok(fastHits >= 25, `fast path taken ${fastHits} times`);
});

test("decode - bodies the fast check must leave to zod (refused, or zod's output differs)", () => {
  fastHits = 0;
  const base = good();
  const bad: unknown[] = [
    null,
    [],
    "x",
    1,
    { ...base, extra: 1 },
    { ...base, id: "nope" },
    { ...base, id: base.id.replace(/^(.{14})7/, "$14") },
    { ...base, id: base.id.replace(/^(.{19})./, "$1c") },
    { ...base, id: 1 },
    { ...base, ts: "2026-11-22T01:02:03Z" },
    { ...base, ts: "2026-11-22T01:02:03.4Z" },
    { ...base, ts: "2026-11-22T01:02:03.456789Z" },
    { ...base, ts: "2026-11-22T10:02:03.456+09:00" },
    { ...base, ts: "2026-11-22T01:02:03.456+00:00" },
    { ...base, ts: "2026-11-22T01:02:03.456z" },
    { ...base, ts: "2026-11-22 01:02:03.456Z" },
    { ...base, ts: "2023-02-29T00:00:00.000Z" },
    { ...base, ts: "1900-02-29T00:00:00.000Z" },
    { ...base, ts: "2026-04-31T00:00:00.000Z" },
    { ...base, ts: "2026-13-01T00:00:00.000Z" },
    { ...base, ts: "2026-00-01T00:00:00.000Z" },
    { ...base, ts: "2026-01-00T00:00:00.000Z" },
    { ...base, ts: "2026-01-01T24:00:00.000Z" },
    { ...base, ts: "2026-01-01T23:60:00.000Z" },
    { ...base, ts: "2026-01-01T23:59:60.000Z" },
    { ...base, ts: "+012026-01-01T00:00:00.000Z" },
    { ...base, ts: 1_700_000_000_000 },
    { ...base, service: "nope" },
    { ...base, service: "toString" },
    { ...base, outcome: "OK" },
    { ...base, outcome: null },
    { ...base, kind: "" },
    { ...base, kind: "Order" },
    { ...base, kind: "1x" },
    { ...base, kind: "a b" },
    { ...base, kind: "a\n" },
    { ...base, trace_id: null },
    { ...base, trace_id: "0123456789ABCDEF0123456789ABCDEF" },
    { ...base, trace_id: "0123" },
    { ...base, actor: null },
    { ...base, actor: 7 },
    { ...base, data: null },
    { ...base, data: [] },
    { ...base, data: "x" },
    { ...base, data: 1 },
  ];
  for (const b of bad) check(b);
  const { data: _d, ...noData } = base;
  check(noData);
  const { id: _i, ...noId } = base;
  check(noId);
  // own __proto__ keys (JSON.parse makes them): zod drops or refuses them
  check(undefined, JSON.stringify(base).replace('"data":{', '"data":{"__proto__":{"x":1},'));
  check(undefined, JSON.stringify(base).replace("{", '{"__proto__":{},'));
  // not JSON at all, and JSON that is not an object
  check(undefined, "{");
  check(undefined, "");
  check(undefined, "null");
  // a duplicated key: JSON.parse keeps the last one, for both paths
  check(undefined, JSON.stringify(base).replace("{", '{"kind":"BAD",'));
  assert.ok(fastHits <= 2, `fast path taken ${fastHits} times on bad bodies`);
});

test("decode - generated bodies: the fast check never disagrees with zod", () => {
  let seed = 11;
  const rnd = (n: number) => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % n;
  };
  const pick = <T>(xs: readonly T[]): T => xs[rnd(xs.length)] as T;
  const id = uuidv7();
  const pools: Record<string, readonly unknown[]> = {
    id: [id, id.toUpperCase(), id.replace(/-/g, ""), `${id}x`, "", 5, null, uuidv7(), uuidv7()],
    ts: [
      "2026-11-22T01:02:03.456Z",
      "2024-02-29T00:00:00.000Z",
      "2025-02-29T00:00:00.000Z",
      "2026-11-22T01:02:03Z",
      "2026-11-22T01:02:03.456+01:00",
      "2026-11-22T01:02:03.456-23:59",
      "2026-11-22T01:02:03.1234Z",
      "2026-06-31T01:02:03.456Z",
      "bad",
      0,
    ],
    service: ["order-exec", "signer", "audit", "cli", "market-feed", "x", "", null],
    kind: ["k", "order_placed", "a-b", "A", "", "_x", "x.y", 3],
    outcome: ["ok", "error", "denied", "Ok", "", false],
    trace_id: ["0123456789abcdef0123456789abcdef", "f".repeat(32), "F".repeat(32), "0", null, 1],
    actor: ["op", "", "x".repeat(300), null, 0, {}],
    data: [{}, { a: 1 }, { a: { b: [1, { c: "d" }] } }, [], null, "s", 0, { "0": 1, z: 2 }],
  };
  const required = ["id", "ts", "service", "kind", "outcome", "data"];
  fastHits = 0;
  for (let i = 0; i < 5_000; i++) {
    const o: Record<string, unknown> = {};
    const keys = [...required, "trace_id", "actor"];
    // shuffle the key order, leave some out, sometimes add one
    for (let j = keys.length - 1; j > 0; j--) {
      const k = rnd(j + 1);
      [keys[j], keys[k]] = [keys[k] as string, keys[j] as string];
    }
    for (const k of keys) {
      const optional = k === "trace_id" || k === "actor";
      if (rnd(optional ? 2 : 25) === 0) continue;
      o[k] = pick(pools[k] as readonly unknown[]);
    }
    if (rnd(30) === 0) o[pick(["extra", "Id", "data2"])] = 1;
    check(o);
  }
  assert.ok(fastHits > 50, `fast path taken ${fastHits} times`);
});
