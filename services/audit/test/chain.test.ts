import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { test } from "node:test";
import {
  type ChainEvent,
  ChainVerifier,
  canonicalEvent,
  canonicalJson,
  EMPTY_HEAD,
  GENESIS_HASH,
  hashEvent,
  hashedForm,
  linkEvents,
} from "../src/index.ts";

const event = (i: number, data: Record<string, unknown> = { n: i }): ChainEvent => ({
  id: `0190a0b0-0000-7000-8000-${String(i).padStart(12, "0")}`,
  ts: "2025-01-01T00:00:00.000Z",
  service: "order-exec",
  kind: "order_placed",
  outcome: "ok",
  data,
});

test("chain - canonical JSON sorts keys at every depth and has no whitespace", () => {
  assert.equal(
    canonicalJson({ b: 1, a: { d: [3, { z: true, y: null }], c: "x" }, u: undefined }),
    '{"a":{"c":"x","d":[3,{"y":null,"z":true}]},"b":1}',
  );
  assert.equal(canonicalJson({ é: 1, e: 2, E: 3 }), '{"E":3,"e":2,"é":1}');
  assert.throws(() => canonicalJson({ x: Number.NaN }), TypeError);
});

test("chain - a hash is SHA-256 over the previous hash and the event's canonical JSON", () => {
  const e = { ...event(1), trace_id: undefined };
  const want = createHash("sha256")
    .update(
      GENESIS_HASH +
        '{"data":{"n":1},"id":"0190a0b0-0000-7000-8000-000000000001","kind":"order_placed","outcome":"ok","service":"order-exec","ts":"2025-01-01T00:00:00.000Z"}',
    )
    .digest("hex");
  assert.equal(hashEvent(GENESIS_HASH, e), want);
  // key order of data does not matter
  assert.equal(
    hashEvent(GENESIS_HASH, event(1, { a: 1, b: 2 })),
    hashEvent(GENESIS_HASH, event(1, { b: 2, a: 1 })),
  );
});

test("chain - linked rows verify and continue from a head", () => {
  const first = linkEvents(EMPTY_HEAD, [event(1), event(2)]);
  const second = linkEvents(first.head, [event(3)]);
  assert.deepEqual(
    [...first.rows, ...second.rows].map((r) => r.seq),
    [1, 2, 3],
  );
  assert.equal(second.rows[0]?.prev_hash, first.head.hash);
  const v = new ChainVerifier();
  for (const r of [...first.rows, ...second.rows]) v.push(r);
  assert.equal(v.firstBreak, undefined);
  assert.deepEqual(v.head, second.head);
});

test("chain - the verifier names the first changed row, not the ones after it", () => {
  const { rows } = linkEvents(
    EMPTY_HEAD,
    [1, 2, 3, 4, 5].map((i) => event(i)),
  );
  const tampered = rows.map((r) => (r.seq === 3 ? { ...r, data: { n: 999 } } : r));
  const v = new ChainVerifier();
  for (const r of tampered) v.push(r);
  assert.equal(v.firstBreak?.seq, 3);
  assert.equal(v.firstBreak?.problem, "hash_mismatch");
});

test("chain - the verifier names a missing row as a seq gap", () => {
  const { rows } = linkEvents(
    EMPTY_HEAD,
    [1, 2, 3, 4].map((i) => event(i)),
  );
  const v = new ChainVerifier();
  for (const r of rows.filter((r) => r.seq !== 2)) v.push(r);
  assert.equal(v.firstBreak?.seq, 3);
  assert.equal(v.firstBreak?.problem, "seq_gap");
});

test("chain - a rewritten hash is caught by the next row's prev_hash", () => {
  const { rows } = linkEvents(
    EMPTY_HEAD,
    [1, 2, 3].map((i) => event(i)),
  );
  const changed = { ...event(2), data: { n: -1 } };
  const forged = rows.map((r) =>
    r.seq === 2 ? { ...r, data: changed.data, hash: hashEvent(r.prev_hash, changed) } : r,
  );
  const v = new ChainVerifier();
  for (const r of forged) v.push(r);
  assert.equal(v.firstBreak?.seq, 3);
  assert.equal(v.firstBreak?.problem, "prev_hash_mismatch");
});

/** The earlier, plain implementation of canonical JSON: the fast one must agree with it. */
function referenceCanonical(value: unknown): string {
  if (value === null) return "null";
  switch (typeof value) {
    case "string":
    case "boolean":
      return JSON.stringify(value);
    case "number":
      if (!Number.isFinite(value)) throw new TypeError("non-finite");
      return JSON.stringify(value);
    case "object": {
      if (Array.isArray(value)) {
        return `[${value.map((v) => (v === undefined ? "null" : referenceCanonical(v))).join(",")}]`;
      }
      const obj = value as Record<string, unknown>;
      const keys = Object.keys(obj)
        .filter((k) => obj[k] !== undefined)
        .sort();
      return `{${keys.map((k) => `${JSON.stringify(k)}:${referenceCanonical(obj[k])}`).join(",")}}`;
    }
    default:
      throw new TypeError(`cannot encode a ${typeof value}`);
  }
}

/** Deterministic pseudo-random JSON-ish values (nested objects/arrays, odd keys and strings). */
function randomValue(seed: { s: number }, depth: number): unknown {
  const r = () => {
    seed.s = (seed.s * 1103515245 + 12345) & 0x7fffffff;
    return seed.s / 0x7fffffff;
  };
  const strings = [
    "",
    "a",
    "é",
    "E",
    "e",
    "~/x",
    'q"uote',
    "\u2028",
    "\uD800",
    "10",
    "2",
    "Z",
    "_",
  ];
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(r() * xs.length)] as T;
  const k = r();
  if (depth > 3 || k < 0.3)
    return pick<unknown>([null, true, false, 0, -1.5, 1e21, 42, ...strings]);
  if (k < 0.5)
    return Array.from({ length: Math.floor(r() * 4) }, () => randomValue(seed, depth + 1));
  const o: Record<string, unknown> = {};
  const n = Math.floor(r() * 6);
  for (let i = 0; i < n; i++)
    o[pick(strings)] = r() < 0.1 ? undefined : randomValue(seed, depth + 1);
  return o;
}

test("chain - the fast canonical JSON agrees with the plain implementation", () => {
  const seed = { s: 7 };
  for (let i = 0; i < 5_000; i++) {
    const v = randomValue(seed, 0);
    assert.equal(canonicalJson(v), referenceCanonical(v));
  }
  for (const bad of [{ x: Number.NaN }, [Number.POSITIVE_INFINITY], { f: () => 1 }, 1n]) {
    assert.throws(() => canonicalJson(bad), TypeError);
    assert.throws(() => referenceCanonical(bad), TypeError);
  }
});

test("chain - canonicalEvent equals the canonical JSON of the hashed form, and the hash is unchanged", () => {
  const seed = { s: 11 };
  const variants: ChainEvent[] = [
    event(1),
    { ...event(2), trace_id: "0123456789abcdef0123456789abcdef" },
    { ...event(3), actor: "ops" },
    { ...event(4), trace_id: "t", actor: "a", data: { z: 1, a: [1, { y: 2, b: 3 }] } },
    { ...event(5), trace_id: null as unknown as undefined, actor: null as unknown as undefined },
    { ...event(6), data: undefined as unknown as Record<string, unknown> },
  ];
  for (let i = 0; i < 500; i++) {
    variants.push({ ...event(100 + i), data: { v: randomValue(seed, 0) } });
  }
  for (const e of variants) {
    const want = referenceCanonical(hashedForm(e));
    assert.equal(canonicalEvent(e), want);
    assert.equal(
      hashEvent(GENESIS_HASH, e),
      createHash("sha256").update(GENESIS_HASH).update(want).digest("hex"),
    );
  }
});

test("chain - flat objects (one native stringify) agree with the plain implementation, odd objects too", () => {
  class WithToJson {
    a = 1;
    toJSON() {
      return "x";
    }
  }
  const nullProto = Object.create(null) as Record<string, unknown>;
  nullProto.b = "2";
  nullProto.a = 1;
  const protoKey = JSON.parse('{"__proto__":"p","z":1,"10":true,"2":null}') as unknown;
  const cases: unknown[] = [
    { side: "bid", market: "KRW-BTC", price: "143250000", volume: "0.0012", n: 1.5, ok: true },
    { b: undefined, a: null, c: "\uD800\u2028", d: -0, e: 1e21 },
    new Date(0),
    new WithToJson(),
    { nested: new Date(0), a: 1 },
    nullProto,
    protoKey,
    {},
  ];
  for (const v of cases) assert.equal(canonicalJson(v), referenceCanonical(v));
  assert.throws(() => canonicalJson({ a: 1, b: Number.NaN }), TypeError);
  assert.throws(() => canonicalJson({ a: 1, f: Symbol("s") }), TypeError);
});

test("chain - unsorted flat objects (copied in sorted order) agree with the plain implementation", () => {
  const parse = (s: string) => JSON.parse(s) as Record<string, unknown>;
  const many: Record<string, unknown> = {};
  for (let i = 30; i > 0; i--) many[`k${String.fromCharCode(96 + (i % 26))}${i}`] = i;
  const cases: Record<string, unknown>[] = [
    { side: "bid", market: "KRW-BTC", ord_type: "limit", price: "1", volume: "0.1", x: undefined },
    // integer-like keys are listed first by the object, in numeric order: "10" sorts before "9"
    { b: 1, 10: 2, 9: 3, a: 4 },
    parse('{"z":1,"__proto__":"p","a":2}'),
    { b: "x", "": "empty key", a: null },
    { é: 1, E: 2, e: 3 },
    many,
  ];
  for (const v of cases) {
    const keysBefore = Object.keys(v);
    assert.equal(canonicalJson(v), referenceCanonical(v));
    assert.deepEqual(Object.keys(v), keysBefore, "the object itself is not changed");
  }
  assert.equal(canonicalJson({ b: 1, 10: 2, 9: 3, a: 4 }), '{"10":2,"9":3,"a":4,"b":1}');
  assert.equal(
    canonicalJson(parse('{"z":1,"__proto__":"p","a":2}')),
    '{"__proto__":"p","a":2,"z":1}',
  );
});
