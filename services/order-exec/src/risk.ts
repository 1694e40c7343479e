/**
 * Risk checks before anything leaves: pure functions of the intent, the
 * trading state, the market rules and the time. Each refusal is a typed code.
 */
import type { OrderIntent, TradingState } from "@upline/shared";
import { UplineError } from "@upline/shared";
import { cmp, type Dec, dec, isMultiple, isZero, mul } from "./decimal.ts";

export interface MarketRules {
  /** From GET /v1/orderbook/instruments. */
  readonly tickSize: string;
}

export interface RiskLimits {
  /** Markets orders may be placed in. */
  readonly markets: ReadonlySet<string>;
  /** Minimum order total per quote currency (KRW 5000, BTC 0.00005, USDT 0.5). */
  readonly minTotal: Readonly<Record<string, string>>;
  /** Maximum order total per quote currency (KRW 1e9, BTC 10). */
  readonly maxTotal: Readonly<Record<string, string>>;
  /** Maximum notional of one order per market (quote currency); `*` for every market. */
  readonly maxNotional: Readonly<Record<string, string>>;
}

export interface RiskContext {
  readonly now: number;
  readonly trading: TradingState;
  readonly limits: RiskLimits;
  /** Rules of the intent's market, if known. */
  readonly rules: MarketRules | undefined;
}

export const DEFAULT_MIN_TOTAL: Readonly<Record<string, string>> = {
  KRW: "5000",
  BTC: "0.00005",
  USDT: "0.5",
};
export const DEFAULT_MAX_TOTAL: Readonly<Record<string, string>> = {
  KRW: "1000000000",
  BTC: "10",
};

/**
 * Limits and tick sizes are a few fixed strings: parsed once (bounded, so an
 * odd caller cannot grow it without end). Decs are immutable.
 */
const limitDecs = new Map<string, Dec>();
function limitDec(text: string): Dec {
  let d = limitDecs.get(text);
  if (d === undefined) {
    d = dec(text);
    if (limitDecs.size < 1024) limitDecs.set(text, d);
  }
  return d;
}

/** The quote-currency total the intent commits, when it can be known before the fill. */
export function orderTotal(intent: OrderIntent): Dec | undefined {
  return totalOf(intent, undefined, undefined);
}

/** {@link orderTotal} with price and volume already parsed (undefined: parse here). */
function totalOf(intent: OrderIntent, price: Dec | undefined, volume: Dec | undefined) {
  if (intent.ord_type === "limit" && intent.price !== undefined && intent.volume !== undefined)
    return mul(price ?? dec(intent.price), volume ?? dec(intent.volume));
  // Market and best buys carry the total to spend in `price`.
  if (intent.side === "bid" && intent.price !== undefined) return price ?? dec(intent.price);
  return undefined;
}

/** Throws the typed refusal, or returns when the intent may be sent. */
export function checkIntent(intent: OrderIntent, ctx: RiskContext): void {
  if (intent.expires_at !== undefined && Date.parse(intent.expires_at) <= ctx.now)
    throw new UplineError("ORDER_EXPIRED", `intent expired at ${intent.expires_at}`);
  if (ctx.trading === "halted")
    throw new UplineError("ORDER_TRADING_HALTED", "trading is halted: cancels and reads only");
  if (ctx.trading === "reducing" && intent.side === "bid")
    throw new UplineError("ORDER_TRADING_HALTED", "trading is reducing: no new buys");
  if (!ctx.limits.markets.has(intent.market))
    throw new UplineError("ORDER_MARKET_NOT_ALLOWED", `market ${intent.market} is not allowed`);
  if (ctx.rules === undefined)
    throw new UplineError("ORDER_MARKET_NOT_ALLOWED", `no instrument data for ${intent.market}`);
  const price = intent.price === undefined ? undefined : dec(intent.price);
  if (intent.ord_type === "limit" && price !== undefined) {
    if (isZero(price) || !isMultiple(price, limitDec(ctx.rules.tickSize)))
      throw new UplineError(
        "ORDER_PRICE_OFF_TICK",
        `price ${intent.price} is not a multiple of the tick ${ctx.rules.tickSize} on ${intent.market}`,
      );
  }
  const volume = intent.volume === undefined ? undefined : dec(intent.volume);
  if (volume !== undefined && isZero(volume))
    throw new UplineError("ORDER_TOTAL_TOO_SMALL", "volume must be above zero");
  const total = totalOf(intent, price, volume);
  if (total === undefined) return;
  const quote = intent.market.split("-")[0] as string;
  const min = ctx.limits.minTotal[quote];
  if (min !== undefined && cmp(total, limitDec(min)) < 0)
    throw new UplineError(
      "ORDER_TOTAL_TOO_SMALL",
      `order total is below the minimum of ${min} ${quote}`,
    );
  const max = ctx.limits.maxTotal[quote];
  if (max !== undefined && cmp(total, limitDec(max)) > 0)
    throw new UplineError(
      "ORDER_TOTAL_TOO_LARGE",
      `order total is above the maximum of ${max} ${quote}`,
    );
  const notional = ctx.limits.maxNotional[intent.market] ?? ctx.limits.maxNotional["*"];
  if (notional !== undefined && cmp(total, limitDec(notional)) > 0)
    throw new UplineError(
      "ORDER_TOTAL_TOO_LARGE",
      `order total is above ${intent.market}'s notional limit of ${notional} ${quote}`,
    );
}

/**
 * A per-replica order-rate cap: at most `perSecond` intents per clock second.
 * Pure state transitions (the caller keeps the state).
 */
export interface RateCapState {
  readonly second: number;
  readonly count: number;
}

export function rateCap(
  state: RateCapState,
  now: number,
  perSecond: number,
): { readonly allowed: boolean; readonly state: RateCapState } {
  const second = Math.floor(now / 1000);
  const count = second === state.second ? state.count : 0;
  if (count >= perSecond) return { allowed: false, state: { second, count } };
  return { allowed: true, state: { second, count: count + 1 } };
}
