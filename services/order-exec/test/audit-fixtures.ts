/** The data of order-exec's per-order audit records, as exec.ts records an intent (shared by the encoder tests). */
export const intentAuditData = {
  client_order_id: "c-1.x:9",
  account: "main",
  market: "KRW-BTC",
  side: "bid",
  ord_type: "limit",
  price: "90000000",
  volume: "0.0001",
  time_in_force: undefined,
};
