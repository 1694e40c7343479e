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
