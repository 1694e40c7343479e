/** Public types of @upline/upbit-sim. */

export const Scope = {
  ViewAccounts: "view_accounts",
  MakeOrders: "make_orders",
  ViewOrders: "view_orders",
  Withdraw: "withdraw",
  ViewWithdrawals: "view_withdrawals",
  Deposit: "deposit",
  ViewDeposits: "view_deposits",
} as const;
export type Scope = (typeof Scope)[keyof typeof Scope];

/** One API key with its balances. Each account is its own pocket unless `pocket` names a shared one (rate limits only). */
export interface SimAccount {
  readonly accessKey: string;
  readonly secretKey: string;
  /** Available balances by currency, as decimal strings, e.g. `{ KRW: "1000000", BTC: "0.5" }`. */
  readonly balances?: Readonly<Record<string, string>>;
  /** Permissions of the key; every scope when omitted. */
  readonly scopes?: readonly Scope[];
  /** Client addresses allowed to use the key; any when omitted. Compared with the socket's remote address (`::ffff:` stripped). */
  readonly allowedIps?: readonly string[];
  /** Key expiry: epoch ms or an ISO date. Past it, requests get `expired_access_key`. */
  readonly notAfter?: number | string;
  /** Rate-limit pocket shared with other keys; defaults to the access key. */
  readonly pocket?: string;
}

export interface SimMarketSpec {
  /** `QUOTE-BASE`, e.g. `KRW-BTC`. */
  readonly market: string;
  /** Starting price (snapped to the tick grid). */
  readonly price?: number;
  readonly koreanName?: string;
  readonly englishName?: string;
}

export interface RateGroupLimit {
  readonly limit: number;
  readonly windowMs: number;
}

export interface RateLimitOptions {
  /** Requests per second of the `order` group (Upbit KR: 12, older/global: 8). */
  readonly order?: number;
  /** Override any group: `{ ticker: { limit: 10, windowMs: 1000 } }`. */
  readonly groups?: Readonly<Record<string, RateGroupLimit>>;
  /** 429s in one ban window after which the client gets 418 (default 10). */
  readonly teapotAfter?: number;
  /** First 418 ban length; doubles on every further ban (default 2000 ms). */
  readonly banMs?: number;
}

/** Fault injection. Every field is optional; `admin.setFaults` merges, `admin.clearFaults` removes all. */
export interface SimFaults {
  /** Delay before a REST request is handled. */
  readonly latencyMs?: number;
  /** Probability (0..1) that a REST request is answered 500 internal_server_error without being handled. */
  readonly errorRate?: number;
  /** Every REST request is answered 429 (counted as a 429). */
  readonly rateLimitStorm?: boolean;
  /** The next N order-creating requests (POST orders, cancel_and_new) are executed, then the connection is destroyed without a response. */
  readonly dropOrderResponses?: number;
  /** Delay after a REST request was handled, before the response is written (the order already exists). */
  readonly slowResponseMs?: number;
  /** Limit the REST faults above to these routes, e.g. `["POST /v1/orders"]`. All routes when omitted. */
  readonly routes?: readonly string[];
  /** Markets answering 403 market_offline to orders and order tests. */
  readonly marketsOffline?: readonly string[];
  /** WebSocket: connections stay open but receive no data. */
  readonly wsStall?: boolean;
  /** WebSocket: every data frame is sent twice. */
  readonly wsDuplicate?: boolean;
  /** WebSocket: consecutive data frames are swapped pairwise. */
  readonly wsReorder?: boolean;
}

export interface SimOptions {
  /** 0 picks a free port. */
  readonly port?: number;
  /** Default 127.0.0.1. */
  readonly host?: string;
  /** Seed of the market random walk; the same seed gives the same market data. Default 1. */
  readonly seed?: number | string;
  /** Default `["KRW-BTC", "KRW-ETH", "KRW-XRP", "BTC-ETH", "USDT-BTC"]`. */
  readonly markets?: readonly (string | SimMarketSpec)[];
  readonly accounts?: readonly SimAccount[];
  /** `false` turns every REST and WebSocket limit off (benchmarks). */
  readonly rateLimits?: RateLimitOptions | false;
  /** Serve the admin HTTP API under `/_admin`. Off by default; `sim.admin` always works. */
  readonly admin?: boolean;
  /** Advance the market on a timer; off (0) by default, drive with `admin.tick()`. */
  readonly tickIntervalMs?: number;
  /** Synthetic trades per tick per market; random 1..3 by default. */
  readonly tradesPerTick?: number;
  /** Clock (epoch ms); injected by tests to control rate-limit windows and timestamps. */
  readonly now?: () => number;
  /** WebSocket idle close (no data either way), default 120 000 ms. */
  readonly wsIdleMs?: number;
  /** How many public trades per market are kept for trades/ticks, candles and the admin log (default 200 000). */
  readonly tradeLogLimit?: number;
  readonly faults?: SimFaults;
}

/** A public trade, as kept in the per-market trade log. */
export interface SimTrade {
  readonly market: string;
  readonly sequentialId: number;
  readonly timestamp: number;
  readonly price: number;
  readonly volume: number;
  /** Side of the aggressor: `ASK` = a sell took a bid. */
  readonly askBid: "ASK" | "BID";
  readonly prevClosingPrice: number;
}

/** A fill of one of an account's orders. */
export interface SimFill {
  readonly tradeUuid: string;
  readonly orderUuid: string;
  readonly accessKey: string;
  readonly identifier: string | null;
  readonly market: string;
  readonly side: "bid" | "ask";
  readonly price: number;
  readonly volume: number;
  readonly funds: number;
  readonly fee: number;
  readonly isMaker: boolean;
  readonly timestamp: number;
}

export interface SimOrderView {
  readonly uuid: string;
  readonly accessKey: string;
  readonly identifier: string | null;
  readonly market: string;
  readonly side: "bid" | "ask";
  readonly ordType: string;
  readonly state: string;
  readonly price: number | null;
  readonly volume: number | null;
  readonly executedVolume: number;
  readonly createdAt: number;
}

export interface SimCounters {
  /** REST requests by rate-limit group (including refused ones). */
  readonly requests: Readonly<Record<string, number>>;
  readonly sent429: number;
  readonly sent418: number;
  readonly sent5xx: number;
  readonly droppedResponses: number;
  readonly wsConnections: number;
  readonly wsMessagesSent: number;
  /** Bytes queued in server-side WebSocket buffers right now. */
  readonly wsBufferedBytes: number;
}

export interface SimAdmin {
  /** Advances every market by `n` steps (price move, new book, synthetic trades); events go out at once. */
  tick(n?: number): void;
  /** Back to the start: seed, prices, balances, no orders, no trades, limits and counters cleared. Faults stay. */
  reset(): void;
  setBalance(accessKey: string, currency: string, balance: string): void;
  /** Moves a market's mid price (snapped to tick); resting orders that cross fill. */
  setPrice(market: string, price: number): void;
  orders(accessKey?: string): SimOrderView[];
  fills(accessKey?: string): SimFill[];
  /** The public trade log of a market, oldest first. */
  trades(market: string): SimTrade[];
  counters(): SimCounters;
  setFaults(faults: SimFaults): void;
  clearFaults(): void;
  faults(): SimFaults;
  /** Closes every WebSocket connection abruptly (code 1006 as the client sees it). */
  disconnectWebSockets(): void;
}

export interface Sim {
  /** Base URL without `/v1`, e.g. `http://127.0.0.1:4321`. */
  readonly restUrl: string;
  /** `ws://host:port/websocket/v1` */
  readonly wsUrl: string;
  /** `ws://host:port/websocket/v1/private` */
  readonly privateWsUrl: string;
  /** `http://host:port/_admin` when `admin: true`. */
  readonly adminUrl: string | undefined;
  readonly port: number;
  readonly admin: SimAdmin;
  /** Closes every connection and the server; safe to call twice. */
  stop(): Promise<void>;
}
