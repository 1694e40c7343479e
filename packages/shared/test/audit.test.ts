import assert from "node:assert/strict";
import { test } from "node:test";
import { AuditEvent, redactAuditData, uuidv7 } from "../src/index.ts";

test("audit - uuidv7 ids are valid v7 UUIDs that sort by time", () => {
  const a = uuidv7(1_700_000_000_000);
  const b = uuidv7(1_700_000_000_001);
  assert.match(a, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  assert.ok(a < b);
  assert.ok(AuditEvent.shape.id.safeParse(a).success);
});

test("audit - redactAuditData replaces secret fields and scrubs tokens at any depth", () => {
  const jwt = "eyJhbGciOiJIUzUxMiJ9.eyJhY2Nlc3Nfa2V5IjoiYWsifQ.c2lnbmF0dXJl";
  const out = redactAuditData({
    key_id: "main",
    nested: {
      secret_key: "s3cr3t",
      list: [{ authorization: `Bearer ${jwt}` }],
      note: `sent Bearer ${jwt}`,
    },
  });
  const text = JSON.stringify(out);
  assert.ok(!text.includes("s3cr3t") && !text.includes(jwt));
  assert.equal(out.key_id, "main");
});
