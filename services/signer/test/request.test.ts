import assert from "node:assert/strict";
import { createHmac, createSecretKey, randomBytes } from "node:crypto";
import { test } from "node:test";
import { isUplineError } from "@upline/shared";
import { CompactSign } from "jose";
import { checkTimes, parseCompactJws, ReplayCache, verifyEd25519 } from "../src/index.ts";
import { verifyHs256 } from "../src/request.ts";
import { SessionStore } from "../src/seal.ts";
import { callerKeys } from "./fixtures.ts";

const caller = callerKeys();
const other = callerKeys();
const { createPublicKey } = await import("node:crypto");
const pub = createPublicKey({ key: caller.publicJwk, format: "jwk" });

async function joseJws(claims: object, header: Record<string, unknown> = { alg: "EdDSA" }) {
  return new CompactSign(new TextEncoder().encode(JSON.stringify(claims)))
    .setProtectedHeader(header as { alg: string })
    .sign(caller.privateKey);
}

test("signer - a JWS made by jose (EdDSA) verifies", async () => {
  const jws = parseCompactJws(await joseJws({ iss: "order-exec", jti: "j-0000001" }));
  verifyEd25519(jws, pub);
  assert.equal(jws.payload.iss, "order-exec");
});

test("signer - a tampered JWS is refused as a bad signature", async () => {
  const text = await joseJws({ iss: "order-exec", path: "/v1/orders" });
  const [h, , s] = text.split(".");
  const forged = Buffer.from(
    JSON.stringify({ iss: "order-exec", path: "/v1/withdraws/coin" }),
  ).toString("base64url");
  assert.throws(() => verifyEd25519(parseCompactJws(`${h}.${forged}.${s}`), pub), {
    code: "SIGNER_BAD_SIGNATURE",
  });
  const wrongKey = createPublicKey({ key: other.publicJwk, format: "jwk" });
  assert.throws(() => verifyEd25519(parseCompactJws(text), wrongKey), {
    code: "SIGNER_BAD_SIGNATURE",
  });
  assert.throws(() => parseCompactJws("a.b"), { code: "SIGNER_BAD_SIGNATURE" });
});

test("signer - a JWS with another alg or an extension header is refused", async () => {
  const withCrit = await joseJws({ iss: "x" }, { alg: "EdDSA", jku: "https://example.invalid/k" });
  assert.throws(() => verifyEd25519(parseCompactJws(withCrit), pub), {
    code: "SIGNER_BAD_SIGNATURE",
  });
  const none = `${Buffer.from('{"alg":"none"}').toString("base64url")}.${Buffer.from("{}").toString("base64url")}.AA`;
  assert.throws(() => verifyEd25519(parseCompactJws(none), pub), { code: "SIGNER_BAD_SIGNATURE" });
});

test("signer - requests are valid only between iat (less skew) and exp, for at most 10 s", () => {
  const t0 = 1_800_000_000;
  checkTimes({ iat: t0, exp: t0 + 10 }, t0 * 1000 + 9_999);
  assert.throws(() => checkTimes({ iat: t0, exp: t0 + 10 }, (t0 + 10) * 1000), {
    code: "SIGNER_EXPIRED",
  });
  assert.throws(() => checkTimes({ iat: t0, exp: t0 + 11 }, t0 * 1000), { code: "SIGNER_EXPIRED" });
  assert.throws(() => checkTimes({ iat: t0 + 5, exp: t0 + 10 }, t0 * 1000), {
    code: "SIGNER_EXPIRED",
  });
});

test("signer - a jti is refused while remembered and forgotten after its window", () => {
  const cache = new ReplayCache();
  const now = 1_800_000_000_000;
  cache.check("order-exec", "jti-1", now + 5_000, now);
  assert.throws(() => cache.check("order-exec", "jti-1", now + 5_000, now + 1_000), {
    code: "SIGNER_REPLAYED",
  });
  cache.check("other-caller", "jti-1", now + 5_000, now + 1_000);
  cache.check("order-exec", "jti-2", now + 60_000, now + 60_000);
  assert.equal(cache.size, 1, "expired entries are purged");
});

test("signer - the replay cache refuses new requests rather than forgetting when full", () => {
  const cache = new ReplayCache(2);
  cache.check("c", "jti-a", 10_000, 0);
  cache.check("c", "jti-b", 10_000, 0);
  assert.throws(() => cache.check("c", "jti-c", 10_000, 0), { code: "SIGNER_UNAVAILABLE" });
});

test("signer - a session is forgotten after its lifetime and takes its MAC key only once", () => {
  const store = new SessionStore();
  const key = createSecretKey(randomBytes(32));
  store.add({ sid: "s".repeat(22), caller: "c", key, epk: "e", expiresAtMs: 1_000 }, 0);
  assert.equal(store.setMacKey("other", "s".repeat(22), key, 0), false);
  assert.equal(store.setMacKey("c", "s".repeat(22), key, 0), true);
  assert.equal(store.setMacKey("c", "s".repeat(22), key, 0), false);
  assert.ok(store.get("c", "s".repeat(22), 999)?.macKey);
  assert.equal(store.get("c", "s".repeat(22), 1_000), undefined);
  assert.equal(store.setMacKey("c", "s".repeat(22), key, 1_000), false);
});

test("signer - an HS256 JWS verifies only under its MAC key, with alg HS256 and no extension header", () => {
  const key = randomBytes(32);
  const mk = (header: object, k: Buffer = key) => {
    const input = `${Buffer.from(JSON.stringify(header)).toString("base64url")}.${Buffer.from('{"iss":"c"}').toString("base64url")}`;
    return parseCompactJws(`${input}.${createHmac("sha256", k).update(input).digest("base64url")}`);
  };
  const ko = createSecretKey(key);
  verifyHs256(mk({ alg: "HS256", kid: "s" }), ko);
  for (const [jws, why] of [
    [mk({ alg: "HS256", kid: "s" }, randomBytes(32)), "other key"],
    [mk({ alg: "HS512", kid: "s" }), "alg"],
    [mk({ alg: "HS256", kid: "s", crit: ["x"] }), "extension header"],
  ] as const)
    assert.throws(
      () => verifyHs256(jws, ko),
      (e: unknown) => isUplineError(e, "SIGNER_BAD_SIGNATURE"),
      why,
    );
});

test("signer - a JWS with a character outside base64url is refused before any MAC (verifyHs256 hashes its input as latin1)", () => {
  const key = randomBytes(32);
  const h = Buffer.from('{"alg":"HS256","kid":"s"}').toString("base64url");
  const p = Buffer.from('{"iss":"c"}').toString("base64url");
  const sig = createHmac("sha256", key).update(`${h}.${p}`).digest("base64url");
  // U+0141 is 0x41 ("A") in latin1: it must never reach the MAC as "A".
  for (const bad of ["\u0141", "é", "\u0000", " ", "+", "/", "="]) {
    const at = Math.floor(p.length / 2);
    const tampered = `${h}.${p.slice(0, at)}${bad}${p.slice(at)}.${sig}`;
    assert.throws(() => parseCompactJws(tampered), { code: "SIGNER_BAD_SIGNATURE" }, bad);
    assert.throws(() => parseCompactJws(`${h}${bad}.${p}.${sig}`), {
      code: "SIGNER_BAD_SIGNATURE",
    });
  }
  verifyHs256(parseCompactJws(`${h}.${p}.${sig}`), createSecretKey(key));
});
