/**
 * Front door of @upline/upbit: the Upbit protocol as a client sees it.
 */
export type {
  MarketInfo,
  QuotationClient,
  QuotationClientOptions,
  QuotationStats,
  TradesPage,
} from "./quotation.ts";
export { createQuotationClient, parseRemainingReq } from "./quotation.ts";
export { decimalString } from "./ws/decimal.ts";
export type {
  MarketChannel,
  MarketStream,
  MarketStreamOptions,
  MarketStreamStats,
  PlanOptions,
  SubscriptionPlan,
} from "./ws/market-stream.ts";
export {
  openMarketStream,
  planSubscriptions,
  subscriptionMessage,
  WsFormat,
} from "./ws/market-stream.ts";
export type { WsFrame } from "./ws/parse.ts";
export {
  frameText,
  orderbookFromRest,
  parseFrame,
  parseMarketObject,
  parseUpbitJson,
  tradeFromRest,
} from "./ws/parse.ts";
export type {
  HeaderSource,
  SocketEvent,
  UpbitSocket,
  UpbitSocketOptions,
  UpbitSocketStats,
} from "./ws/socket.ts";
export { createUpbitSocket, DownReason, SocketState } from "./ws/socket.ts";
export type { BackoffOptions, RateWindow, Timers } from "./ws/timing.ts";
export {
  backoffDelay,
  combineWindows,
  createConnectLimiter,
  createRateWindow,
  systemTimers,
} from "./ws/timing.ts";
