import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { describe, test } from "node:test";
import { canonicalBody, canonicalQuery, keyRecord, NonceStore, verifyJwt } from "../src/auth.ts";
import { newKeys, token } from "./helpers.ts";

const T0 = Date.UTC(2026, 0, 1);

function setup(extra: Parameters<typeof keyRecord>[0] extends infer K ? Partial<K> : never = {}) {
  const k = newKeys();
  const rec = keyRecord({ ...k, ...extra });
  const nonces = new NonceStore(60_000, T0);
  const verify = (
    authorization: string | undefined,
    canonical = "",
    scope: string | null = null,
    ip = "127.0.0.1",
    now = T0,
  ) =>
    verifyJwt(
      { authorization, canonical, scope, clientIp: ip, now },
      (a) => (a === k.accessKey ? rec : undefined),
      nonces,
    );
  return { k, verify };
}

describe("canonical query strings", () => {
  test("auth - GET canonical form is the percent-decoded query in request order", () => {
    assert.equal(
      canonicalQuery(
        "market=KRW-BTC&states%5B%5D=wait&states[]=watch&start_time=2026-01-01T00%3A00%3A00%2B09%3A00",
      ),
      "market=KRW-BTC&states[]=wait&states[]=watch&start_time=2026-01-01T00:00:00+09:00",
    );
    assert.equal(
      canonicalQuery("pairs=KRW-BTC%2CKRW-ETH&b=1&a=2"),
      "pairs=KRW-BTC,KRW-ETH&b=1&a=2",
    );
  });

  test("auth - POST canonical form follows body key order and drops nulls", () => {
    assert.equal(
      canonicalBody({
        market: "KRW-BTC",
        side: "bid",
        volume: null,
        price: "1000",
        ord_type: "price",
        n: 5,
      }),
      "market=KRW-BTC&side=bid&price=1000&ord_type=price&n=5",
    );
    assert.equal(canonicalBody({ "uuids[]": ["a", "b"] }), "uuids[]=a&uuids[]=b");
  });
});

describe("JWT verification", () => {
  test("auth - accepts HS256 and HS512 tokens with a matching query_hash", () => {
    const { k, verify } = setup();
    assert.deepEqual(verify(`Bearer ${token(k, "a=1", { alg: "HS256" })}`, "a=1").ok, true);
    assert.deepEqual(verify(`Bearer ${token(k, "a=1", { alg: "HS512" })}`, "a=1").ok, true);
    assert.deepEqual(verify(`Bearer ${token(k, null)}`).ok, true);
  });

  const err = (r: ReturnType<ReturnType<typeof setup>["verify"]>) => (r.ok ? "ok" : r.error);

  test("auth - refuses a missing token with no_authorization_token", () => {
    const { verify } = setup();
    assert.equal(err(verify(undefined)), "no_authorization_token");
  });

  test("auth - refuses an unknown access key with invalid_access_key", () => {
    const { verify } = setup();
    assert.equal(err(verify(`Bearer ${token(newKeys(), null)}`)), "invalid_access_key");
  });

  test("auth - refuses an expired key with expired_access_key", () => {
    const { k, verify } = setup({ notAfter: T0 - 1 });
    assert.equal(err(verify(`Bearer ${token(k, null)}`)), "expired_access_key");
  });

  test("auth - refuses a caller outside the IP allow-list with no_authorization_ip", () => {
    const { k, verify } = setup({ allowedIps: ["10.0.0.1"] });
    assert.equal(
      err(verify(`Bearer ${token(k, null)}`, "", null, "::ffff:127.0.0.1")),
      "no_authorization_ip",
    );
    assert.equal(err(verify(`Bearer ${token(k, null)}`, "", null, "::ffff:10.0.0.1")), "ok");
  });

  test("auth - refuses alg none, an alg/signature mismatch and a wrong secret with jwt_verification", () => {
    const { k, verify } = setup();
    assert.equal(err(verify(`Bearer ${token(k, null, { alg: "none" })}`)), "jwt_verification");
    assert.equal(
      err(verify(`Bearer ${token(k, null, { alg: "HS512", signAlg: "sha256" })}`)),
      "jwt_verification",
    );
    assert.equal(
      err(verify(`Bearer ${token({ ...k, secretKey: "other" }, null)}`)),
      "jwt_verification",
    );
    assert.equal(err(verify("Bearer not.a.jwt.at.all")), "jwt_verification");
  });

  test("auth - refuses a reused nonce with nonce_used", () => {
    const { k, verify } = setup();
    const t = token(k, null, { nonce: "n-1" });
    assert.equal(err(verify(`Bearer ${t}`)), "ok");
    assert.equal(err(verify(`Bearer ${token(k, null, { nonce: "n-1" })}`)), "nonce_used");
  });

  test("auth - refuses a query_hash over other params or another order with invalid_query_payload", () => {
    const { k, verify } = setup();
    assert.equal(err(verify(`Bearer ${token(k, "b=2&a=1")}`, "a=1&b=2")), "invalid_query_payload");
    assert.equal(err(verify(`Bearer ${token(k, null)}`, "a=1")), "invalid_query_payload");
    const encoded = "t=2026-01-01T00%3A00%3A00%2B09%3A00";
    assert.equal(
      err(verify(`Bearer ${token(k, encoded)}`, canonicalQuery(encoded))),
      "invalid_query_payload",
    );
    assert.equal(createHash("sha512").update("").digest("hex").length, 128);
  });

  test("auth - refuses a key without the endpoint's permission with out_of_scope", () => {
    const { k, verify } = setup({ scopes: ["view_accounts"] });
    assert.equal(err(verify(`Bearer ${token(k, null)}`, "", "make_orders")), "out_of_scope");
    assert.equal(err(verify(`Bearer ${token(k, null)}`, "", "view_accounts")), "ok");
  });
});
