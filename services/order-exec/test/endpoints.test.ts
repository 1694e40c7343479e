import assert from "node:assert/strict";
import { test } from "node:test";
import { orderRequests } from "@upline/upbit";
import { SIGNER_ENDPOINTS } from "../src/index.ts";

test("endpoints - the signer policy list is exactly the calls order-exec signs", () => {
  const key = { uuid: "u" };
  const calls = [
    orderRequests.submitOrder({
      market: "KRW-BTC",
      side: "bid",
      ord_type: "limit",
      price: "1",
      volume: "1",
      identifier: "c",
    }),
    orderRequests.getOrder(key),
    orderRequests.cancelOrder(key),
    orderRequests.cancelOrdersByIds({ uuids: ["u"] }),
    orderRequests.cancelAllOpen({}),
    orderRequests.listOpenOrders(1),
    orderRequests.cancelAndNew(key, {
      new_ord_type: "limit",
      new_price: "1",
      new_volume: "1",
      new_identifier: "c2",
    }),
  ].map((c) => `${c.method} ${c.path}`);
  assert.deepEqual([...SIGNER_ENDPOINTS].sort(), [...calls, "WS /websocket/v1/private"].sort());
});
