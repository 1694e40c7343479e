import assert from "node:assert/strict";
import { createSecretKey } from "node:crypto";
import { test } from "node:test";
import { checkPolicy, type ExchangeKey, parseCallers, type SignIntent } from "../src/index.ts";
import { callerKeys } from "./fixtures.ts";

const key: ExchangeKey = {
  keyId: "main",
  version: 1,
  accessKey: "AK",
  secret: createSecretKey(Buffer.from("s")),
  account: "main",
  scopes: [],
  notAfterMs: undefined,
  sensitiveEndpoints: new Set(["POST /v1/withdraws/coin"]),
  source: "test",
};
const [caller] = parseCallers(
  {
    callers: [
      {
        id: "order-exec",
        public_jwk: callerKeys().publicJwk,
        keys: ["main"],
        endpoints: [
          "GET /v1/accounts",
          "POST /v1/orders",
          "DELETE /v1/order",
          "POST /v1/withdraws/krw",
        ],
        markets: ["KRW-BTC", "KRW-ETH"],
        max_order_total: "1000000",
        max_order_volume: "2",
      },
    ],
  },
  "inline",
).values();
const policy = caller as NonNullable<typeof caller>;

const order = (body: Record<string, string>): SignIntent => ({
  method: "POST",
  path: "/v1/orders",
  body,
});
const limitBid = order({
  market: "KRW-BTC",
  side: "bid",
  ord_type: "limit",
  price: "100000",
  volume: "5",
});

test("signer - a limit order within the caller's limits is allowed", () => {
  checkPolicy(limitBid, policy, key, "active");
});

test("signer - an endpoint outside the caller's policy is denied", () => {
  assert.throws(
    () => checkPolicy({ method: "GET", path: "/v1/orders/closed" }, policy, key, "active"),
    {
      code: "SIGNER_ENDPOINT_NOT_ALLOWED",
    },
  );
});

test("signer - a withdrawal is denied unless the key file also allows it", () => {
  assert.throws(
    () =>
      checkPolicy(
        { method: "POST", path: "/v1/withdraws/krw", body: { amount: "1" } },
        policy,
        key,
        "active",
      ),
    { code: "SIGNER_ENDPOINT_NOT_ALLOWED", message: /key main's file/ },
  );
  assert.throws(
    () =>
      checkPolicy(
        { method: "POST", path: "/v1/withdraws/coin", body: { amount: "1" } },
        policy,
        key,
        "active",
      ),
    { code: "SIGNER_ENDPOINT_NOT_ALLOWED", message: /caller order-exec/ },
  );
});

test("signer - a market outside the allow-list is denied", () => {
  assert.throws(
    () =>
      checkPolicy(
        order({ market: "KRW-XRP", side: "bid", ord_type: "price", price: "1000" }),
        policy,
        key,
        "active",
      ),
    {
      code: "SIGNER_PARAMS_OVER_LIMIT",
    },
  );
});

test("signer - an order total over the limit is denied, exactly at the limit allowed", () => {
  assert.throws(
    () =>
      checkPolicy(
        order({
          market: "KRW-BTC",
          side: "bid",
          ord_type: "limit",
          price: "100000.5",
          volume: "10",
        }),
        policy,
        key,
        "active",
      ),
    { code: "SIGNER_PARAMS_OVER_LIMIT" },
  );
  checkPolicy(
    order({ market: "KRW-BTC", side: "bid", ord_type: "limit", price: "100000", volume: "10" }),
    policy,
    key,
    "active",
  );
  assert.throws(
    () =>
      checkPolicy(
        order({ market: "KRW-BTC", side: "ask", ord_type: "market", volume: "2.1" }),
        policy,
        key,
        "active",
      ),
    {
      code: "SIGNER_PARAMS_OVER_LIMIT",
    },
  );
});

test("signer - halted trading signs only cancels and reads", () => {
  assert.throws(() => checkPolicy(limitBid, policy, key, "halted"), {
    code: "SIGNER_TRADING_HALTED",
  });
  checkPolicy(
    { method: "DELETE", path: "/v1/order", params: [["uuid", "u-1"]] },
    policy,
    key,
    "halted",
  );
  checkPolicy({ method: "GET", path: "/v1/accounts" }, policy, key, "halted");
});

test("signer - reducing trading refuses new buys and lets sells through", () => {
  assert.throws(() => checkPolicy(limitBid, policy, key, "reducing"), {
    code: "SIGNER_TRADING_HALTED",
  });
  checkPolicy(
    order({ market: "KRW-BTC", side: "ask", ord_type: "limit", price: "100000", volume: "1" }),
    policy,
    key,
    "reducing",
  );
});
