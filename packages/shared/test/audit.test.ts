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

/**
 * The Buffer construction uuidv7 used before (time by writeUIntBE, version and
 * variant masks, hex, dashes), applied to `random` (16 bytes; 0–5 are overwritten).
 */
const bufferUuidv7 = (nowMs: number, random: Buffer): string => {
  const b = Buffer.from(random);
  b.writeUIntBE(nowMs, 0, 6);
  b[6] = ((b[6] as number) & 0x0f) | 0x70;
  b[8] = ((b[8] as number) & 0x3f) | 0x80;
  const h = b.toString("hex");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
};

test("audit - uuidv7 is the Buffer construction for generated and edge times, with fresh random bits each call", () => {
  const times = [0, 1, 255, 256, 65_535, 2 ** 32 - 1, 2 ** 32, 2 ** 40 + 7, 2 ** 48 - 1];
  for (let i = 0; i < 20_000; i++) times.push(Math.floor(Math.random() * 2 ** 48));
  for (let i = 0; i < 2_000; i++) times.push(Date.now() + i);
  const seen = new Set<string>();
  for (const ms of times) {
    const id = uuidv7(ms);
    const bytes = Buffer.from(id.replaceAll("-", ""), "hex");
    assert.equal(id, bufferUuidv7(ms, bytes), String(ms));
    assert.equal(bytes.readUIntBE(0, 6), ms);
    seen.add(id.slice(14));
  }
  // 74 random bits per id: a repeat means bytes were reused.
  assert.equal(seen.size, times.length);
  // Not integer milliseconds in 48 bits: as writeUIntBE does (throws out of range).
  assert.throws(() => uuidv7(-1), RangeError);
  assert.throws(() => uuidv7(2 ** 48), RangeError);
  for (const odd of [1.5, 1_700_000_000_000.25]) {
    const id = uuidv7(odd);
    assert.equal(id, bufferUuidv7(odd, Buffer.from(id.replaceAll("-", ""), "hex")));
  }
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
