/**
 * Front door of @upline/upbit. Built by its own issue; empty until then.
 */
// REST client, order endpoints and rate governor (issue 6)
export type {
  GroupLimit,
  GroupState,
  Observation,
  TakeDecision,
} from "./governor/decide.ts";
export {
  banUntil,
  EMPTY_GROUP,
  observe as observeRateGroup,
  take as takeRateSlot,
  UPBIT_GROUPS,
  windowOf,
} from "./governor/decide.ts";
export type {
  Governor,
  GovernorOptions,
  GovernorStore,
  Grant,
  RateGate,
  StoreUpdate,
} from "./governor/governor.ts";
export { createGovernor, createMemoryGovernorStore } from "./governor/governor.ts";
export type {
  MarketInfo,
  QuotationClient,
  QuotationClientOptions,
  QuotationStats,
  TradesPage,
} from "./quotation.ts";
export { createQuotationClient } from "./quotation.ts";
export type {
  CallOptions,
  HttpMethod,
  RestClient,
  RestClientOptions,
  RestResponse,
  SignedGrant,
} from "./rest/client.ts";
export { createRestClient } from "./rest/client.ts";
export type { UpbitRestErrorInfo } from "./rest/errors.ts";
export {
  classifyNetworkError,
  classifyResponse,
  isUpbitRestError,
  parseErrorBody,
  UpbitRestError,
} from "./rest/errors.ts";
export type {
  ExchangeCall,
  NewOrder,
  OrderApi,
  OrderKey,
  ReplaceOrder,
} from "./rest/orders.ts";
export {
  CancelAndNewResult,
  CancelManyResult,
  createOrderApi,
  getInstruments,
  Instrument,
  orderRequests,
  UpbitOrder,
} from "./rest/orders.ts";
export type { RemainingReq } from "./rest/remaining.ts";
export { parseRemainingReq } from "./rest/remaining.ts";
export { decimalString } from "./ws/decimal.ts";
export { fastTrade, tradeJson } from "./ws/fast-trade.ts";
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
// end issue 6
