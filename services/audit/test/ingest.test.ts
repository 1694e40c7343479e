import assert from "node:assert/strict";
import { test } from "node:test";
import { uuidv7 } from "@upline/shared";
import { ingest, REDACTED, redactForStorage } from "../src/index.ts";

const origin = { subject: "audit.v1.order-exec.order_placed", stream: "AUDIT", streamSeq: 7 };
const body = (o: unknown) => new TextEncoder().encode(JSON.stringify(o));
const now = () => Date.parse("2025-01-01T00:00:00Z");

test("redaction - a bearer token, a JWT and a long secret under a secret-ish key are replaced", () => {
  const jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.abcdefghijklmnop";
  const { data, paths } = redactForStorage({
    headers: { authorization: `Bearer ${"a".repeat(40)}` },
    note: `sent ${jwt}`,
    api_secret: "0123456789abcdef0123456789abcdef",
    client_order_id: "c-1",
    nested: [{ access_key: "AKIAABCDEFGHIJKLMNOP" }],
  });
  assert.deepEqual([...paths].sort(), [
    "/api_secret",
    "/headers/authorization",
    "/nested/0/access_key",
    "/note",
  ]);
  assert.equal((data.headers as Record<string, unknown>).authorization, REDACTED);
  assert.equal(data.note, REDACTED);
  assert.equal(data.client_order_id, "c-1");
});

test("redaction - values already redacted by the publisher raise nothing", () => {
  const input = { token: "[redacted]", auth: "Bearer [redacted]", jws: "[redacted-jws]", n: 1 };
  const { data, paths } = redactForStorage(input);
  assert.deepEqual(paths, []);
  assert.equal(data, input);
});

test("ingest - a valid event is normalized (UTC millisecond ts) and keeps its id", () => {
  const id = uuidv7();
  const r = ingest(
    body({
      id,
      ts: "2025-01-01T09:00:00.123456+09:00",
      service: "signer",
      kind: "sign",
      outcome: "ok",
      data: { s: "a\u0000b" },
    }),
    origin,
    now,
  );
  assert.ok(r.ok);
  assert.equal(r.event.id, id);
  assert.equal(r.event.ts, "2025-01-01T00:00:00.123Z");
  assert.equal(r.event.data.s, "a\uFFFDb");
});

test("ingest - an invalid body becomes a stable invalid_event record of the audit service", () => {
  const bad = body({ id: "nope", kind: "x" });
  const a = ingest(bad, origin, now);
  const b = ingest(bad, origin, now);
  assert.equal(a.ok, false);
  assert.equal(a.event.kind, "invalid_event");
  assert.equal(a.event.service, "audit");
  assert.equal(a.event.id, b.event.id);
  assert.match(a.event.id, /^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  assert.equal(ingest(new TextEncoder().encode("{"), origin, now).ok, false);
});

/** The earlier redaction walk (paths built eagerly, no short-string shortcut): the fast one must agree. */
function referenceRedact(data: Record<string, unknown>): { data: unknown; paths: string[] } {
  const SECRET_KEY =
    /(^|[_-])(secret|secret_?key|password|passwd|passphrase|token|access_?token|refresh_?token|authorization|bearer|jws|jwt|private_?key|api_?key|access_?key|seed|credentials?)$/i;
  const SECRET_KEY_EXACT = /^(secret|password|token|authorization|bearer|jws|jwt|seed|apikey)$/i;
  const BEARER = /\bbearer\s+(?!\[redacted)[A-Za-z0-9._~+/=-]{8,}/i;
  const COMPACT_JWS = /\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*/;
  const LONG_OPAQUE = /^(?:[0-9a-fA-F]{32,}|[A-Za-z0-9+/_-]{32,}={0,2})$/;
  const ALREADY = /^\[redacted[^\]]*\]$/;
  const paths: string[] = [];
  const walk = (value: unknown, path: string, key: string | undefined, depth: number): unknown => {
    if (typeof value === "string") {
      if (ALREADY.test(value)) return value;
      if (BEARER.test(value) || COMPACT_JWS.test(value)) {
        paths.push(path);
        return REDACTED;
      }
      if (
        key !== undefined &&
        (SECRET_KEY_EXACT.test(key) || SECRET_KEY.test(key)) &&
        (LONG_OPAQUE.test(value) || value.length >= 8) &&
        value.length > 0
      ) {
        paths.push(path);
        return REDACTED;
      }
      return value;
    }
    if (value === null || typeof value !== "object" || depth >= 16) return value;
    if (Array.isArray(value)) return value.map((v, i) => walk(v, `${path}/${i}`, key, depth + 1));
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      out[k] = walk(v, `${path}/${k.replace(/~/g, "~0").replace(/\//g, "~1")}`, k, depth + 1);
    }
    return out;
  };
  return { data: walk(data, "", undefined, 0), paths };
}

test("redaction - the fast walk agrees with the plain one (values, paths, and no copy when clean)", () => {
  let s = 3;
  const r = () => {
    s = (s * 1103515245 + 12345) & 0x7fffffff;
    return s / 0x7fffffff;
  };
  const keys = ["token", "api_key", "note", "a/b", "x~y", "seed", "password", "n", "Authorization"];
  const strings = [
    "short",
    "1234567",
    "12345678",
    "[redacted]",
    `Bearer ${"x".repeat(20)}`,
    "Bearer [redacted]",
    "eyJhbGciOi.eyJzdWIiOi.sig",
    "0123456789abcdef0123456789abcdef",
    "plain text that is long enough",
  ];
  const value = (depth: number): unknown => {
    const k = r();
    if (depth > 3 || k < 0.4) return strings[Math.floor(r() * strings.length)];
    if (k < 0.55) return Array.from({ length: Math.floor(r() * 3) }, () => value(depth + 1));
    if (k < 0.6) return Math.floor(r() * 100);
    const o: Record<string, unknown> = {};
    for (let i = Math.floor(r() * 4); i > 0; i--)
      o[keys[Math.floor(r() * keys.length)] as string] = value(depth + 1);
    return o;
  };
  for (let i = 0; i < 3_000; i++) {
    const input = { v: value(0), [keys[i % keys.length] as string]: value(1) };
    const want = referenceRedact(input);
    const got = redactForStorage(input);
    assert.deepEqual(got.data, want.data);
    assert.deepEqual(got.paths, want.paths);
    if (want.paths.length === 0) assert.equal(got.data, input);
  }
});

test("ingest - NUL and lone surrogates are replaced at any depth, in keys too; a clean body is not copied twice", () => {
  const r = ingest(
    body({
      id: uuidv7(),
      ts: "2025-01-01T00:00:00.000Z",
      service: "signer",
      kind: "sign",
      outcome: "ok",
      actor: "op\u0000",
      data: { list: [{ "k\u0000": "v\uD800" }], ok: "fine" },
    }),
    origin,
    now,
  );
  assert.ok(r.ok);
  assert.equal(r.event.actor, "op\uFFFD");
  assert.deepEqual(r.event.data, { list: [{ "k\uFFFD": "v\uFFFD" }], ok: "fine" });
});
