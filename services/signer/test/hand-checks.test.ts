/**
 * The hand-written checks on the hot path agree with the zod schemas they
 * replace: SignClaims (signer, untrusted input), SignReply and SignGrant
 * (client). Hand-picked good and bad inputs, then seeded random mutations of
 * good ones; for each, "hand check accepts" must equal "schema accepts".
 * Also: the audit event JSON written by hand equals JSON.stringify's; the
 * signer's audit redaction equals redactAuditData; canonicalBody equals the
 * general (entries/join) form it replaced; the grant JSON written field by
 * field equals JSON.stringify of the grant.
 */
import assert from "node:assert/strict";
import { createSecretKey } from "node:crypto";
import { test } from "node:test";
import { isUplineError, redactAuditData, SignGrant, SignReply } from "@upline/shared";
import { seededRandom } from "@upline/testkit";
import { grantJson } from "../src/app.ts";
import { eventJson, redact } from "../src/audit-sink.ts";
import { canonicalBody } from "../src/canonical.ts";
import { isSignGrant, isSignReply } from "../src/client.ts";
import { deny } from "../src/errors.ts";
import { isSignClaims, parseSignClaims, SignClaims } from "../src/request.ts";
import { createUpbitTokenSigner } from "../src/upbit-jwt.ts";

const base = {
  iss: "order-exec",
  jti: "0b9d2c52-7a4e-4c52-9a52-1f0c2a8b6e11",
  iat: 1_800_000_000,
  exp: 1_800_000_005,
  typ: "sign",
  sid: "AAAAAAAAAAAAAAAAAAAAAA",
  key_id: "main",
  method: "POST",
  path: "/v1/orders",
  body: {
    market: "KRW-BTC",
    side: "bid",
    ord_type: "limit",
    price: "95000000",
    volume: "0.001",
    identifier: null,
    post_only: true,
    n: 1.5,
    "states[]": ["wait", "done"],
  },
};
const get = {
  ...base,
  method: "GET",
  path: "/v1/orders/closed",
  body: undefined,
  params: [
    ["market", "KRW-BTC"],
    ["states[]", "done"],
    ["start_time", "2026-01-01T00:00:00+09:00"],
  ],
};
const strip = (o: Record<string, unknown>) =>
  JSON.parse(JSON.stringify(o)) as Record<string, unknown>;

const emoji = "\u{1F600}";
const good: Record<string, unknown>[] = [
  strip(base),
  strip(get),
  strip({ ...get, params: [] }),
  strip({ ...get, params: undefined, method: "WS", path: "/websocket/v1/private" }),
  strip({ ...base, key_version: 2 }),
  strip({ ...base, body: {} }),
  strip({ ...base, iss: "x".repeat(64), jti: "j".repeat(128), sid: "s".repeat(64) }),
  strip({ ...base, iss: emoji.repeat(64) }), // 64 code points, 128 units
  strip({ ...base, jti: emoji.repeat(8) }), // 8 code points
  strip({ ...base, body: { a: "v".repeat(4096), b: Array(256).fill(1) } }),
  strip({ ...get, params: Array(256).fill(["k", "v"]) }),
  strip({ ...get, params: [["k".repeat(64), "v".repeat(4096)]] }),
  strip({ ...get, params: [["", ""]] }),
  strip({ ...base, iat: 0, exp: 0 }),
  { ...strip(base), iat: -0 },
];
const bad: Record<string, unknown>[] = [
  strip({ ...base, extra: 1 }),
  strip({ ...base, typ: "session" }),
  strip({ ...base, iss: "" }),
  strip({ ...base, iss: "x".repeat(65) }),
  strip({ ...base, iss: emoji.repeat(65) }),
  strip({ ...base, jti: "short" }),
  strip({ ...base, jti: `${emoji.repeat(3)}a` }), // 7 code points, 7 units
  strip({ ...base, jti: "j".repeat(129) }),
  strip({ ...base, sid: "s".repeat(15) }),
  strip({ ...base, sid: "s".repeat(65) }),
  strip({ ...base, key_id: "" }),
  strip({ ...base, key_version: 0 }),
  strip({ ...base, key_version: 1.5 }),
  strip({ ...base, key_version: "1" }),
  strip({ ...base, iat: -1 }),
  strip({ ...base, iat: 1.5 }),
  strip({ ...base, iat: 2 ** 60 }),
  strip({ ...base, exp: "1" }),
  { ...strip(base), exp: Number.POSITIVE_INFINITY },
  strip({ ...base, method: "PUT" }),
  strip({ ...base, path: "/v1/Orders" }),
  strip({ ...base, path: "v1/orders" }),
  strip({ ...base, path: `/${"a".repeat(129)}` }),
  strip({ ...base, path: "/v1/orders?x=1" }),
  strip({ ...base, method: "GET" }), // a body with GET
  strip({ ...get, method: "POST", path: "/v1/orders" }), // params with POST
  strip({ ...base, params: [] }), // both
  strip({ ...get, params: [["k"]] }),
  strip({ ...get, params: [["k", "v", "w"]] }),
  strip({ ...get, params: [["k", 1]] }),
  strip({ ...get, params: [["k".repeat(65), "v"]] }),
  strip({ ...get, params: [["k", "v".repeat(4097)]] }),
  strip({ ...get, params: Array(257).fill(["k", "v"]) }),
  strip({ ...get, params: { market: "KRW-BTC" } }),
  strip({ ...base, body: [] }),
  strip({ ...base, body: "x" }),
  strip({ ...base, body: null }),
  strip({ ...base, body: { a: { nested: 1 } } }),
  strip({ ...base, body: { a: [null] } }),
  strip({ ...base, body: { a: [[1]] } }),
  strip({ ...base, body: { a: Array(257).fill(1) } }),
  strip({ ...base, body: { a: "v".repeat(4097) } }),
  { ...strip(base), body: { a: Number.NaN } },
  strip({ ...base, iss: undefined }),
  strip({ ...base, sid: undefined }),
  strip({ ...base, method: undefined }),
];

const samples: unknown[] = [
  undefined,
  null,
  true,
  0,
  -1,
  1.5,
  2 ** 53,
  "",
  "x",
  "s".repeat(16),
  "s".repeat(65),
  emoji.repeat(40),
  [],
  ["k", "v"],
  [["k", "v"]],
  {},
  { a: 1 },
  "GET",
  "POST",
  "/v1/orders",
  "sign",
];
function mutate(o: Record<string, unknown>, r: () => number): Record<string, unknown> {
  const c = structuredClone(o);
  const keys = [...Object.keys(c), "extra", "params", "body", "key_version"];
  const n = 1 + Math.floor(r() * 2);
  for (let i = 0; i < n; i++) {
    const k = keys[Math.floor(r() * keys.length)] as string;
    const v = samples[Math.floor(r() * samples.length)];
    if (v === undefined) delete c[k];
    else c[k] = structuredClone(v);
  }
  return c;
}

test("signer - the hand check of sign claims agrees with the SignClaims schema", () => {
  const check = (c: Record<string, unknown>, why: string) =>
    assert.equal(isSignClaims(c), SignClaims.safeParse(c).success, `${why}: ${JSON.stringify(c)}`);
  for (const c of good) {
    assert.ok(SignClaims.safeParse(c).success, `schema accepts ${JSON.stringify(c)}`);
    check(c, "good");
  }
  for (const c of bad) {
    assert.ok(!SignClaims.safeParse(c).success, `schema refuses ${JSON.stringify(c)}`);
    check(c, "bad");
  }
  const r = seededRandom(4);
  let accepted = 0;
  for (let i = 0; i < 20_000; i++) {
    const c = mutate((r() < 0.5 ? good[0] : good[1]) as Record<string, unknown>, r);
    check(c, `mutation ${i}`);
    if (SignClaims.safeParse(c).success) accepted++;
  }
  assert.ok(accepted > 100, `the mutations also produce valid claims (${accepted})`);
});

test("signer - refused claims name the field; an own __proto__ body key is refused (zod would drop it)", () => {
  assert.throws(
    () => parseSignClaims(strip({ ...base, path: "/v1/Orders" })),
    (e: unknown) => isUplineError(e, "SIGNER_PARAMS_INVALID") && /path/.test((e as Error).message),
  );
  const proto = JSON.parse(
    JSON.stringify(base).replace('"market"', '"__proto__":"x","market"'),
  ) as Record<string, unknown>;
  assert.ok(Object.hasOwn(proto.body as object, "__proto__"));
  assert.equal(isSignClaims(proto), false);
  assert.throws(
    () => parseSignClaims(proto),
    (e: unknown) => isUplineError(e, "SIGNER_PARAMS_INVALID"),
  );
  assert.equal(parseSignClaims(good[0] as Record<string, unknown>), good[0]);
});

test("signer client - the hand checks of replies agree with SignReply and SignGrant", () => {
  const replies: unknown[] = [
    { replica: "r-1", sealed: "abc" },
    { replica: "r".repeat(64), sealed: "a" },
    { replica: emoji.repeat(64), sealed: "a" },
    { replica: emoji.repeat(65), sealed: "a" },
    { replica: "r".repeat(65), sealed: "a" },
    { replica: "", sealed: "a" },
    { replica: "r", sealed: "" },
    { replica: "r" },
    { sealed: "a" },
    { replica: "r", sealed: "a", x: 1 },
    { replica: 1, sealed: "a" },
    JSON.parse('{"replica":"r","sealed":"a","__proto__":{}}'),
    [],
    null,
    "x",
  ];
  for (const v of replies)
    assert.equal(isSignReply(v), SignReply.safeParse(v).success, JSON.stringify(v));
  const grants: unknown[] = [
    { authorization: "Bearer x" },
    { authorization: "Bearer x", query: "a=b", url_query: "a=b" },
    { authorization: "Bearer x", body: "{}" },
    { authorization: "Bearer x", query: "" },
    { authorization: "" },
    {},
    { query: "a" },
    { authorization: "Bearer x", query: 1 },
    { authorization: "Bearer x", extra: "y" },
    { authorization: 1 },
    JSON.parse('{"authorization":"B","__proto__":"x"}'),
    [],
    null,
  ];
  for (const v of grants)
    assert.equal(isSignGrant(v), SignGrant.safeParse(v).success, JSON.stringify(v));
});

test("signer - the hand-written audit event JSON is byte for byte JSON.stringify of the event", () => {
  const strings = [
    "",
    "order-exec",
    "main",
    'a "quoted" key',
    "back\\slash",
    "tab\there",
    "nul\u0000",
    "\u001f\u007f",
    "line\u2028sep",
    "snow ☃ and 🚀",
    "lone \ud800 high",
    "lone \udc00 low",
    "Bearer [redacted]",
    "0123456789abcdef0123456789abcdef",
  ];
  const values: unknown[] = [
    ...strings,
    0,
    -0,
    1,
    -7,
    2 ** 53,
    1.5,
    1e21,
    Number.NaN,
    Number.POSITIVE_INFINITY,
    true,
    false,
    null,
    undefined,
    ["a", 1],
    { nested: "x" },
  ];
  const random = seededRandom(4242);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)] as T;
  for (let i = 0; i < 5_000; i++) {
    const data: Record<string, unknown> = {};
    const n = Math.floor(random() * 9);
    for (let j = 0; j < n; j++) data[random() < 0.8 ? `k${j}` : pick(strings)] = pick(values);
    const traceId = random() < 0.5 ? undefined : "4bf92f3577b34da6a3ce929d0e0e4736";
    const actor = random() < 0.3 ? undefined : pick(strings);
    const kind = pick(["sign", "session", "admin", "key"]);
    const outcome = pick(["ok", "denied", "error"]);
    const id = "019a8f4e-2b1c-7d3e-8f40-123456789abc";
    const ts = "2026-11-21T23:40:00.123Z";
    const event: Record<string, unknown> = { id, ts, service: "signer", kind, outcome };
    if (traceId !== undefined) event.trace_id = traceId;
    if (actor !== undefined) event.actor = actor;
    event.data = data;
    assert.equal(eventJson(id, ts, kind, outcome, traceId, actor, data), JSON.stringify(event));
  }
});

/** canonicalBody as it was written before the fast path (Object.entries, arrays joined): the reference. */
function referenceCanonicalBody(body: Readonly<Record<string, unknown>>) {
  const hashed: string[] = [];
  const kept: Record<string, unknown> = {};
  const entries = Object.entries(body);
  if (entries.length > 256) throw deny("SIGNER_PARAMS_INVALID", "more than 256 body fields");
  for (const [key, value] of entries) {
    if (value === null || value === undefined) continue;
    const values = Array.isArray(value) ? (value as unknown[]) : [value];
    for (const v of values) {
      let text: string;
      if (typeof v === "string") text = v;
      else if (typeof v === "boolean") text = String(v);
      else if (typeof v === "number" && Number.isFinite(v)) text = JSON.stringify(v);
      else
        throw deny(
          "SIGNER_PARAMS_INVALID",
          `body field ${key} must be a string, number, boolean or a list of them`,
        );
      if (!/^[a-z][a-z0-9_]*(\[\])?$/.test(key) || key.length > 64)
        throw deny(
          "SIGNER_PARAMS_INVALID",
          `bad parameter name ${JSON.stringify(key.slice(0, 64))}`,
        );
      // biome-ignore lint/suspicious/noControlCharactersInRegex: as canonical.ts
      if (text.length > 4096 || /[&#\u0000-\u001f\u007f]/.test(text))
        throw deny(
          "SIGNER_PARAMS_INVALID",
          `parameter ${key} has a value that cannot be canonicalised`,
        );
      hashed.push(`${key}=${text}`);
    }
    kept[key] = value;
  }
  return { hashed: hashed.join("&"), json: JSON.stringify(kept) };
}

const outcome = (f: () => unknown): unknown => {
  try {
    return { ok: f() };
  } catch (err) {
    return { code: (err as { code?: string }).code, message: (err as Error).message };
  }
};

test("signer - canonicalBody agrees with the general form (good, bad and random bodies)", () => {
  const random = seededRandom(777);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)] as T;
  const keys = [
    "market",
    "side",
    "ord_type",
    "price",
    "volume",
    "identifier",
    "states[]",
    "uuids[]",
    "post_only",
    "n",
    "1",
    "0",
    "Bad",
    "a b",
    "k".repeat(65),
    "",
    "x",
  ];
  const values: unknown[] = [
    "KRW-BTC",
    "",
    "95000000",
    "0.001",
    "a&b",
    "a#b",
    "tab\t",
    "v".repeat(4097),
    "2026-11-22T01:00:00+09:00",
    "ok,also",
    0,
    -0,
    1.5,
    1e21,
    Number.NaN,
    Number.POSITIVE_INFINITY,
    true,
    false,
    null,
    undefined,
    [],
    ["wait", "done"],
    [1, true],
    [null],
    [[1]],
    { nested: 1 },
    "snow ☃",
  ];
  const bodies: Record<string, unknown>[] = [
    {},
    { market: "KRW-BTC", side: "bid", ord_type: "limit", price: "95000000", volume: "0.001" },
    { market: "KRW-BTC", identifier: null, "states[]": ["wait", "done"], post_only: true },
    Object.fromEntries(Array.from({ length: 256 }, (_, i) => [`k${i}`, "v"])),
    Object.fromEntries(Array.from({ length: 257 }, (_, i) => [`k${i}`, "v"])),
    Object.fromEntries(
      Array.from({ length: 257 }, (_, i) => [`k${i}`, i === 0 ? { bad: 1 } : null]),
    ),
    JSON.parse('{"__proto__": "x", "market": "KRW-BTC"}'),
    Object.create({ inherited: "x" }, { market: { value: "KRW-BTC", enumerable: true } }),
  ];
  for (let i = 0; i < 20_000; i++) {
    const b: Record<string, unknown> = {};
    const n = Math.floor(random() * 8);
    for (let j = 0; j < n; j++) b[pick(keys)] = pick(values);
    bodies.push(b);
  }
  for (const b of bodies) {
    const got = outcome(() => canonicalBody(b));
    const want = outcome(() => referenceCanonicalBody(b));
    assert.deepEqual(got, want, JSON.stringify(b));
  }
});

test("signer - the audit sink's redaction equals redactAuditData (flat, secret-named and nested data)", () => {
  const random = seededRandom(99);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)] as T;
  const keys = [
    "caller",
    "key_id",
    "method",
    "path",
    "params_digest",
    "key_version",
    "decision",
    "code",
    "replica",
    "event",
    "reason",
    "secret",
    "Token",
    "authorization",
    "jws",
    "other",
  ];
  const values: unknown[] = [
    "order-exec",
    "order.exec",
    "main",
    "POST",
    "Bearer abc.def.ghi",
    "key Bearer eyJhbGciOiJIUzUxMiJ9.eyJhIjoxfQ.c2lnbmF0dXJl",
    "eyJhbGciOiJIUzUxMiJ9.eyJhIjoxfQ.c2lnbmF0dXJl",
    "with space",
    "0123456789abcdef0123456789abcdef",
    1,
    null,
    true,
    undefined,
    { nested: "Bearer x.y.z" },
    ["eyJhbGciOiJIUzUxMiJ9.eyJhIjoxfQ.c2lnbmF0dXJl"],
  ];
  for (let i = 0; i < 10_000; i++) {
    const data: Record<string, unknown> = {};
    const n = Math.floor(random() * 9);
    for (let j = 0; j < n; j++) data[pick(keys)] = pick(values);
    const copy = structuredClone(data);
    assert.deepEqual(redact(data), redactAuditData(data), JSON.stringify(data));
    assert.deepEqual(data, copy); // never modified in place
  }
});

test("signer - the grant's JSON written field by field equals JSON.stringify of the grant", () => {
  const random = seededRandom(2718);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)] as T;
  const strings = [
    "",
    "market=KRW-BTC&side=bid",
    '{"market":"KRW-BTC","n":1.5,"q":"a \\"quoted\\" \\\\ value"}',
    "to=2026-11-22T01:00:00+09:00",
    "to=2026-11-22T01%3A00%3A00%2B09%3A00",
    'say "hi" \\ back',
    "nul\u0000 \u001f \u007f",
    "line\u2028sep",
    "snow ☃ and 🚀",
    "lone \ud800 high",
  ];
  // Real tokens (the grant takes them as they are), over access keys that need escaping.
  const accessKeys = ["ak-0123", 'ak "quoted"', "ak \\ back", "ak ☃ \u0001", "ak \ud800"];
  const signers = [createUpbitTokenSigner("HS512"), createUpbitTokenSigner("HS256")];
  const secret = createSecretKey(Buffer.from("sk-for-the-grant-test"));
  for (let i = 0; i < 5_000; i++) {
    const hashedIn = random() < 0.3 ? undefined : pick(strings);
    const token = pick(signers).sign(secret, pick(accessKeys), hashedIn);
    assert.match(token, /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
    const authorization = `Bearer ${token}`;
    const form = Math.floor(random() * 3);
    if (form === 0) assert.equal(grantJson(token, undefined), JSON.stringify({ authorization }));
    else if (form === 1) {
      const json = pick(strings);
      assert.equal(
        grantJson(token, { hashed: pick(strings), json }),
        JSON.stringify({ authorization, body: json }),
      );
    } else {
      const hashed = pick(strings);
      const url = pick(strings);
      assert.equal(
        grantJson(token, { hashed, url }),
        JSON.stringify({ authorization, query: hashed, url_query: url }),
      );
    }
  }
});
