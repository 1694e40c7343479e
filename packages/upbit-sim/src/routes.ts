/** The REST route table: rate-limit group, scope and handler of every endpoint. */
import type { Exchange } from "./exchange.ts";
import type { Params } from "./params.ts";
import * as p from "./private.ts";
import * as q from "./quotation.ts";

export interface PublicRoute {
  readonly kind: "public";
  readonly group: string;
  readonly handle: (ex: Exchange, params: Params, path: string) => q.QuotationResult;
}

export interface PrivateRoute {
  readonly kind: "private";
  readonly group: string;
  /** Permission needed, or null. */
  readonly scope: string | null;
  /** Query-only endpoints refuse a body (QUERY_PARAMETER_NOT_SUPPORTED). */
  readonly queryOnly?: boolean;
  /** Creates orders (target of the drop-response fault). */
  readonly creates?: boolean;
  readonly handle: (r: p.PrivateRequest) => p.PrivateResult;
}

export type Route = PublicRoute | PrivateRoute;

const pub = (group: string, handle: PublicRoute["handle"]): PublicRoute => ({
  kind: "public",
  group,
  handle,
});
const priv = (
  group: string,
  scope: string | null,
  handle: PrivateRoute["handle"],
  extra: { queryOnly?: boolean; creates?: boolean } = {},
): PrivateRoute => ({ kind: "private", group, scope, handle, ...extra });

export const ROUTES: ReadonlyMap<string, Route> = new Map<string, Route>([
  ["GET /v1/market/all", pub("market", q.marketAll)],
  ["GET /v1/ticker", pub("ticker", q.ticker)],
  ["GET /v1/ticker/all", pub("ticker", q.tickerAll)],
  ["GET /v1/orderbook", pub("orderbook", q.orderbook)],
  ["GET /v1/orderbook/instruments", pub("orderbook", q.orderbookInstruments)],
  ["GET /v1/trades/ticks", pub("trade", q.tradesTicks)],
  ["GET /v1/accounts", priv("default", "view_accounts", p.accounts)],
  ["GET /v1/orders/chance", priv("default", "view_orders", p.chance)],
  ["POST /v1/orders", priv("order", "make_orders", p.createOrder, { creates: true })],
  ["POST /v1/orders/test", priv("order-test", "make_orders", p.testOrder)],
  ["GET /v1/order", priv("default", "view_orders", p.getOrder)],
  ["GET /v1/orders/uuids", priv("default", "view_orders", p.ordersByIds)],
  ["GET /v1/orders/open", priv("default", "view_orders", p.openOrders)],
  ["GET /v1/orders/closed", priv("default", "view_orders", p.closedOrders)],
  ["DELETE /v1/order", priv("default", "make_orders", p.cancelOrder, { queryOnly: true })],
  ["DELETE /v1/orders/uuids", priv("default", "make_orders", p.cancelByIds, { queryOnly: true })],
  [
    "DELETE /v1/orders/open",
    priv("order-cancel-all", "make_orders", p.cancelOpen, { queryOnly: true }),
  ],
  [
    "POST /v1/orders/cancel_and_new",
    priv("order", "make_orders", p.cancelAndNew, { creates: true }),
  ],
  ["GET /v1/withdraws/chance", priv("default", "view_withdrawals", p.withdrawChance)],
  ["GET /v1/withdraws", priv("default", "view_withdrawals", p.walletRead)],
  ["GET /v1/withdraw", priv("default", "view_withdrawals", p.walletRead)],
  ["GET /v1/withdraws/coin_addresses", priv("default", "view_withdrawals", p.walletRead)],
  ["POST /v1/withdraws/coin", priv("default", "withdraw", p.walletWrite)],
  ["POST /v1/withdraws/krw", priv("default", "withdraw", p.walletWrite)],
  ["DELETE /v1/withdraws/coin", priv("default", "withdraw", p.walletWrite)],
  ["GET /v1/deposits", priv("default", "view_deposits", p.walletRead)],
  ["GET /v1/deposit", priv("default", "view_deposits", p.walletRead)],
  ["GET /v1/deposits/coin_addresses", priv("default", "view_deposits", p.walletRead)],
  ["GET /v1/deposits/coin_address", priv("default", "view_deposits", p.walletRead)],
  ["GET /v1/deposits/chance/coin", priv("default", "view_deposits", p.walletRead)],
  ["POST /v1/deposits/generate_coin_address", priv("default", "view_deposits", p.walletWrite)],
  ["POST /v1/deposits/krw", priv("default", "deposit", p.walletWrite)],
  ["GET /v1/status/wallet", priv("default", null, p.walletStatus)],
  ["GET /v1/api_keys", priv("default", null, p.walletRead)],
]);

const CANDLES = pub("candles", q.candleRoute);

export function findRoute(method: string, path: string): Route | undefined {
  const r = ROUTES.get(`${method} ${path}`);
  if (r !== undefined) return r;
  if (method === "GET" && path.startsWith("/v1/candles/")) return CANDLES;
  return undefined;
}
