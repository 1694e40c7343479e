import assert from "node:assert/strict";
import { test } from "node:test";
import {
  classifyNetworkError,
  classifyResponse,
  orderRequests,
  parseRemainingReq,
} from "../src/index.ts";

test("rest - parses Remaining-Req, hyphenated groups included, and ignores min", () => {
  assert.deepEqual(parseRemainingReq("group=default; min=1800; sec=29"), {
    group: "default",
    sec: 29,
  });
  assert.deepEqual(parseRemainingReq("group=order-cancel-all; min=600; sec=0"), {
    group: "order-cancel-all",
    sec: 0,
  });
  assert.equal(parseRemainingReq("group=order; min=1800"), undefined);
  assert.equal(parseRemainingReq(undefined), undefined);
});

test("rest - a 4xx is non-retryable with Upbit's error name kept", () => {
  const e = classifyResponse(
    400,
    '{"error":{"name":"invalid_price_bid","message":"tick"}}',
    {},
    "POST /v1/orders",
  );
  assert.equal(e.code, "UPBIT_REST_REJECTED");
  assert.equal(e.retry, "non_retryable");
  assert.equal(e.exchangeError, "invalid_price_bid");
  assert.equal(e.outcomeUnknown, false);
});

test("rest - a refused key is fatal; a quotation integer name is kept as text", () => {
  const e = classifyResponse(
    401,
    '{"error":{"name":"expired_access_key","message":"x"}}',
    {},
    "GET /v1/accounts",
  );
  assert.equal(e.code, "UPBIT_AUTH_FAILED");
  assert.equal(e.retry, "fatal");
  assert.equal(
    classifyResponse(404, '{"error":{"name":404,"message":"Code not found"}}', {}, "GET")
      .exchangeError,
    "404",
  );
});

test("rest - 5xx and resets are retryable with an unknown outcome; a refused connect was not sent", () => {
  const e5 = classifyResponse(
    500,
    '{"error":{"name":"internal_server_error"}}',
    {},
    "POST /v1/orders",
  );
  assert.equal(e5.code, "UPBIT_REST_UNAVAILABLE");
  assert.equal(e5.retry, "retryable");
  assert.equal(e5.outcomeUnknown, true);
  assert.equal(
    classifyNetworkError(Object.assign(new Error("reset"), { code: "UND_ERR_SOCKET" }), "POST")
      .outcomeUnknown,
    true,
  );
  assert.equal(
    classifyNetworkError(Object.assign(new Error("refused"), { code: "ECONNREFUSED" }), "POST")
      .outcomeUnknown,
    false,
  );
});

test("rest - 429 with a text body and 418 with Retry-After", () => {
  const r = classifyResponse(429, "Too many API requests.", { group: "order" }, "POST /v1/orders");
  assert.equal(r.code, "UPBIT_RATE_LIMITED");
  assert.equal(r.group, "order");
  const b = classifyResponse(
    418,
    '{"error":{"name":418,"message":"Blocked for 4 seconds."}}',
    { retryAfter: "4" },
    "POST",
  );
  assert.equal(b.code, "UPBIT_BANNED");
  assert.equal(b.retryAfterMs, 4000);
  assert.equal(classifyResponse(418, "Blocked for 7 seconds.", {}, "POST").retryAfterMs, 7000);
});

test("rest - order calls are described for signing in their rate-limit group", () => {
  const submit = orderRequests.submitOrder({
    market: "KRW-BTC",
    side: "bid",
    ord_type: "price",
    price: "10000",
    identifier: "a1",
  });
  assert.deepEqual(submit, {
    method: "POST",
    path: "/v1/orders",
    group: "order",
    body: { market: "KRW-BTC", side: "bid", ord_type: "price", price: "10000", identifier: "a1" },
  });
  assert.deepEqual(orderRequests.getOrder({ identifier: "a1" }).params, [["identifier", "a1"]]);
  assert.equal(orderRequests.cancelAllOpen().group, "order-cancel-all");
  assert.deepEqual(orderRequests.cancelOrdersByIds({ uuids: ["u1", "u2"] }).params, [
    ["uuids[]", "u1"],
    ["uuids[]", "u2"],
  ]);
});
