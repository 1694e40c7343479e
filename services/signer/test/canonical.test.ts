import assert from "node:assert/strict";
import { createHash, createSecretKey } from "node:crypto";
import { test } from "node:test";
import { decodeProtectedHeader, jwtVerify } from "jose";
import { canonicalBody, canonicalQuery, createUpbitTokenSigner } from "../src/index.ts";

const secretText = "test-secret-not-base64+/=";
const secret = createSecretKey(Buffer.from(secretText, "utf8"));
const raw = new TextEncoder().encode(secretText);
const sha512 = (s: string) => createHash("sha512").update(s).digest("hex");

async function verified(token: string, alg: "HS512" | "HS256" = "HS512") {
  const { payload, protectedHeader } = await jwtVerify(token, raw, { algorithms: [alg] });
  assert.equal(protectedHeader.typ, "JWT");
  return payload as Record<string, unknown>;
}

test("signer - a request without params gets a token with only access_key and nonce", async () => {
  const token = createUpbitTokenSigner().sign(secret, "AK", undefined);
  const claims = await verified(token);
  assert.deepEqual(Object.keys(claims).sort(), ["access_key", "nonce"]);
  assert.equal(claims.access_key, "AK");
  assert.match(claims.nonce as string, /^[0-9a-f-]{36}$/);
});

test("signer - states[] arrays repeat their key in request order", async () => {
  const q = canonicalQuery([
    ["market", "KRW-BTC"],
    ["states[]", "wait"],
    ["states[]", "watch"],
    ["limit", "10"],
  ]);
  assert.equal(q.hashed, "market=KRW-BTC&states[]=wait&states[]=watch&limit=10");
  assert.equal(q.url, "market=KRW-BTC&states[]=wait&states[]=watch&limit=10");
  const claims = await verified(createUpbitTokenSigner().sign(secret, "AK", q.hashed));
  assert.equal(claims.query_hash, sha512("market=KRW-BTC&states[]=wait&states[]=watch&limit=10"));
  assert.equal(claims.query_hash_alg, "SHA512");
});

test("signer - comma lists stay one raw value in the hashed string", async () => {
  const q = canonicalQuery([["markets", "KRW-BTC,KRW-ETH"]]);
  assert.equal(q.hashed, "markets=KRW-BTC,KRW-ETH");
  assert.equal(new URLSearchParams(q.url).get("markets"), "KRW-BTC,KRW-ETH");
  const claims = await verified(createUpbitTokenSigner().sign(secret, "AK", q.hashed));
  assert.equal(claims.query_hash, sha512("markets=KRW-BTC,KRW-ETH"));
});

test("signer - ISO timestamps keep + and : in the hash and are percent-encoded on the wire", async () => {
  const q = canonicalQuery([
    ["market", "KRW-BTC"],
    ["start_time", "2026-11-01T09:00:00+09:00"],
  ]);
  assert.equal(q.hashed, "market=KRW-BTC&start_time=2026-11-01T09:00:00+09:00");
  assert.equal(q.url, "market=KRW-BTC&start_time=2026-11-01T09%3A00%3A00%2B09%3A00");
  assert.equal(decodeURIComponent(q.url), q.hashed);
  const claims = await verified(createUpbitTokenSigner().sign(secret, "AK", q.hashed));
  assert.equal(claims.query_hash, sha512("market=KRW-BTC&start_time=2026-11-01T09:00:00+09:00"));
});

test("signer - POST bodies hash their keys in body order with nulls dropped, and the JSON matches", async () => {
  const b = canonicalBody({
    market: "KRW-BTC",
    side: "bid",
    volume: null,
    price: "10000",
    ord_type: "price",
  });
  assert.equal(b.hashed, "market=KRW-BTC&side=bid&price=10000&ord_type=price");
  assert.equal(b.json, '{"market":"KRW-BTC","side":"bid","price":"10000","ord_type":"price"}');
  const claims = await verified(createUpbitTokenSigner().sign(secret, "AK", b.hashed));
  assert.equal(claims.query_hash, sha512("market=KRW-BTC&side=bid&price=10000&ord_type=price"));
});

test("signer - HS256 is used when configured", async () => {
  const token = createUpbitTokenSigner("HS256").sign(secret, "AK", "a=1");
  assert.equal(decodeProtectedHeader(token).alg, "HS256");
  const claims = await verified(token, "HS256");
  assert.equal(claims.query_hash, sha512("a=1"));
});

test("signer - params that would change the query's structure are refused", () => {
  assert.throws(() => canonicalQuery([["market", "KRW-BTC&x=1"]]), {
    code: "SIGNER_PARAMS_INVALID",
  });
  assert.throws(() => canonicalQuery([["Market", "KRW-BTC"]]), { code: "SIGNER_PARAMS_INVALID" });
  assert.throws(() => canonicalBody({ nested: { a: 1 } as never }), {
    code: "SIGNER_PARAMS_INVALID",
  });
});

test("signer - the token's claims are exactly the JSON of {access_key, nonce, query_hash, query_hash_alg}", async () => {
  const ak = 'AK "quoted" \\ ☃ \u0001';
  const token = createUpbitTokenSigner().sign(secret, ak, "a=1");
  const claims = await verified(token);
  const text = Buffer.from(token.split(".")[1] as string, "base64url").toString("utf8");
  assert.equal(
    text,
    JSON.stringify({
      access_key: ak,
      nonce: claims.nonce,
      query_hash: sha512("a=1"),
      query_hash_alg: "SHA512",
    }),
  );
  const bare = createUpbitTokenSigner().sign(secret, ak, undefined);
  const bareClaims = await verified(bare);
  assert.equal(
    Buffer.from(bare.split(".")[1] as string, "base64url").toString("utf8"),
    JSON.stringify({ access_key: ak, nonce: bareClaims.nonce }),
  );
});
