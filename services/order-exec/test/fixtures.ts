/**
 * Order fields the order-exec tests share: a resting limit buy on KRW-BTC (the
 * simulator's mid is 100,000,000; tick 1,000), without its client order id.
 */
export const limitBidFields = {
  account: "main",
  market: "KRW-BTC",
  side: "bid",
  ord_type: "limit",
  price: "90000000",
  volume: "0.0001",
} as const;

/** The data of order-exec's per-order audit records, as exec.ts records an intent (the encoder tests). */
export const intentAuditData = {
  client_order_id: "c-1.x:9",
  ...limitBidFields,
  time_in_force: undefined,
};
