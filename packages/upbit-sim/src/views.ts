/** Wire shapes: the JSON objects Upbit sends, built from engine state. */
import type { Account, Exchange } from "./exchange.ts";
import { FEES, MAX_TOTAL, MIN_TOTAL } from "./exchange.ts";
import type { Market, Order } from "./market.ts";
import { dec, round, tickSize } from "./num.ts";
import type { SimTrade } from "./types.ts";

const KST = 9 * 3600_000;

/** `2025-07-04T15:00:00+09:00` */
export function kstIso(ms: number): string {
  return `${new Date(ms + KST).toISOString().slice(0, 19)}+09:00`;
}

/** `2025-07-04T15:00:00.123456+09:00` (µs precision, as trades on GET /v1/order). */
export function kstIsoMicro(ms: number): string {
  return `${new Date(ms + KST).toISOString().slice(0, 23)}000+09:00`;
}

function ymd(ms: number, sep: string): string {
  const s = new Date(ms).toISOString();
  return sep === "" ? s.slice(0, 10).replaceAll("-", "") : s.slice(0, 10);
}

function hms(ms: number, sep: string): string {
  const s = new Date(ms).toISOString().slice(11, 19);
  return sep === "" ? s.replaceAll(":", "") : s;
}

function change(m: Market): { change: "RISE" | "EVEN" | "FALL"; cp: number; cr: number } {
  const cp = round(m.last - m.prevClose);
  return {
    change: cp > 0 ? "RISE" : cp < 0 ? "FALL" : "EVEN",
    cp,
    cr: m.prevClose > 0 ? round(cp / m.prevClose) : 0,
  };
}

export function restTicker(m: Market, now: number): Record<string, unknown> {
  const c = change(m);
  const ts = m.lastTs || now;
  return {
    market: m.code,
    trade_date: ymd(ts, ""),
    trade_time: hms(ts, ""),
    trade_date_kst: ymd(ts + KST, ""),
    trade_time_kst: hms(ts + KST, ""),
    trade_timestamp: ts,
    opening_price: m.open,
    high_price: m.high,
    low_price: m.low,
    trade_price: m.last,
    prev_closing_price: m.prevClose,
    change: c.change,
    change_price: Math.abs(c.cp),
    change_rate: Math.abs(c.cr),
    signed_change_price: c.cp,
    signed_change_rate: c.cr,
    trade_volume: m.lastVolume,
    acc_trade_price: m.accPrice,
    acc_trade_price_24h: m.accPrice,
    acc_trade_volume: m.accVolume,
    acc_trade_volume_24h: m.accVolume,
    highest_52_week_price: m.high52,
    highest_52_week_date: m.high52Date || ymd(now, "-"),
    lowest_52_week_price: m.low52,
    lowest_52_week_date: m.low52Date || ymd(now, "-"),
    timestamp: now,
  };
}

export function restOrderbook(m: Market, depth: number, now: number): Record<string, unknown> {
  const book = m.book(depth);
  const units = [];
  let ta = 0;
  let tb = 0;
  for (let i = 0; i < Math.max(book.asks.length, book.bids.length); i++) {
    const a = book.asks[i];
    const b = book.bids[i];
    ta += a?.[1] ?? 0;
    tb += b?.[1] ?? 0;
    units.push({
      ask_price: a?.[0] ?? 0,
      bid_price: b?.[0] ?? 0,
      ask_size: a?.[1] ?? 0,
      bid_size: b?.[1] ?? 0,
    });
  }
  return {
    market: m.code,
    timestamp: m.bookTs || now,
    total_ask_size: round(ta),
    total_bid_size: round(tb),
    orderbook_units: units,
    level: 0,
  };
}

export function restTrade(m: Market, t: SimTrade): Record<string, unknown> {
  return {
    market: m.code,
    trade_date_utc: ymd(t.timestamp, "-"),
    trade_time_utc: hms(t.timestamp, ":"),
    timestamp: t.timestamp,
    trade_price: t.price,
    trade_volume: t.volume,
    prev_closing_price: t.prevClosingPrice,
    change_price: round(t.price - t.prevClosingPrice),
    ask_bid: t.askBid,
    sequential_id: t.sequentialId,
  };
}

export function restAccounts(acc: Account): Record<string, unknown>[] {
  const out = [];
  for (const [currency, b] of acc.balances) {
    if (b.balance === 0 && b.locked === 0 && currency !== "KRW") continue;
    out.push(accountRow(currency, b));
  }
  return out;
}

export function accountRow(
  currency: string,
  b: { balance: number; locked: number; avgBuyPrice: number },
): Record<string, unknown> {
  return {
    currency,
    balance: dec(b.balance),
    locked: dec(b.locked),
    avg_buy_price: dec(b.avgBuyPrice),
    avg_buy_price_modified: false,
    unit_currency: "KRW",
  };
}

export function orderChance(ex: Exchange, acc: Account, m: Market): Record<string, unknown> {
  const fee = dec(FEES[m.quote] ?? 0.0025);
  return {
    bid_fee: fee,
    ask_fee: fee,
    maker_bid_fee: fee,
    maker_ask_fee: fee,
    market: {
      id: m.code,
      name: `${m.base}/${m.quote}`,
      order_types: ["limit"],
      order_sides: ["ask", "bid"],
      bid_types: [
        "best_fok",
        "best_ioc",
        "limit",
        "limit_fok",
        "limit_ioc",
        "limit_post_only",
        "price",
      ],
      ask_types: [
        "best_fok",
        "best_ioc",
        "limit",
        "limit_fok",
        "limit_ioc",
        "limit_post_only",
        "market",
      ],
      bid: { currency: m.quote, price_unit: null, min_total: dec(MIN_TOTAL[m.quote] ?? 0) },
      ask: { currency: m.quote, price_unit: null, min_total: dec(MIN_TOTAL[m.quote] ?? 0) },
      max_total: dec(MAX_TOTAL[m.quote] ?? 0),
      state: ex.offline.has(m.code) ? "inactive" : "active",
    },
    bid_account: accountRow(m.quote, ex.balance(acc, m.quote)),
    ask_account: accountRow(m.base, ex.balance(acc, m.base)),
  };
}

export function restOrder(o: Order, withTrades: boolean): Record<string, unknown> {
  const out: Record<string, unknown> = {
    uuid: o.uuid,
    side: o.side,
    ord_type: o.ordType,
  };
  if (o.price !== null) out.price = dec(o.price);
  out.state = o.state;
  out.market = o.market;
  out.created_at = kstIso(o.createdAt);
  if (o.volume !== null) {
    out.volume = dec(o.volume);
    out.remaining_volume = dec(o.remainingVolume);
  }
  out.reserved_fee = dec(o.reservedFee);
  out.remaining_fee = dec(o.remainingFee);
  out.paid_fee = dec(o.paidFee);
  out.locked = dec(o.locked);
  out.executed_volume = dec(o.executedVolume);
  out.executed_funds = dec(o.executedFunds);
  out.prevented_volume = dec(o.preventedVolume);
  out.prevented_locked = dec(o.preventedLocked);
  out.trades_count = o.tradesCount;
  if (o.timeInForce !== null) out.time_in_force = o.timeInForce;
  if (o.smpType !== null) out.smp_type = o.smpType;
  if (o.identifier !== null) out.identifier = o.identifier;
  if (withTrades)
    out.trades = o.trades.map((t) => ({
      market: o.market,
      uuid: t.uuid,
      price: dec(t.price),
      volume: dec(t.volume),
      funds: dec(t.funds),
      trend: t.trend,
      created_at: kstIsoMicro(t.createdAt),
      side: t.side,
    }));
  return out;
}

export function instruments(m: Market): Record<string, unknown> {
  return {
    market: m.code,
    quote_currency: m.quote,
    tick_size: dec(tickSize(m.quote, m.mid)),
    supported_levels: ["0"],
  };
}

// ------------------------------------------------------------------ candles

/** Candle start (UTC ms) of `ts` for a kind: seconds, minutes/N, days, weeks, months, years. */
export function candleStart(kind: string, unit: number, ts: number): number {
  if (kind === "seconds") return ts - (ts % 1000);
  if (kind === "minutes") return ts - (ts % (unit * 60_000));
  if (kind === "days") return ts - (ts % 86_400_000);
  const d = new Date(ts);
  if (kind === "weeks") {
    const day = ts - (ts % 86_400_000);
    const dow = (d.getUTCDay() + 6) % 7;
    return day - dow * 86_400_000;
  }
  if (kind === "months") return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1);
  return Date.UTC(d.getUTCFullYear(), 0, 1);
}

/** Candles from the trade log, newest first, strictly before `to`; empty intervals are skipped as Upbit does. */
export function candles(
  m: Market,
  kind: string,
  unit: number,
  count: number,
  to: number,
): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  let cur: {
    start: number;
    o: number;
    h: number;
    l: number;
    c: number;
    v: number;
    q: number;
    ts: number;
  } | null = null;
  const flush = () => {
    if (cur === null) return;
    const row: Record<string, unknown> = {
      market: m.code,
      candle_date_time_utc: new Date(cur.start).toISOString().slice(0, 19),
      candle_date_time_kst: new Date(cur.start + KST).toISOString().slice(0, 19),
      opening_price: cur.o,
      high_price: cur.h,
      low_price: cur.l,
      trade_price: cur.c,
      timestamp: cur.ts,
      candle_acc_trade_price: round(cur.q),
      candle_acc_trade_volume: round(cur.v),
    };
    if (kind === "minutes") row.unit = unit;
    if (kind === "days") {
      row.prev_closing_price = m.prevClose;
      row.change_price = round(cur.c - m.prevClose);
      row.change_rate = m.prevClose > 0 ? round((cur.c - m.prevClose) / m.prevClose) : 0;
    }
    if (kind === "weeks" || kind === "months" || kind === "years")
      row.first_day_of_period = new Date(cur.start).toISOString().slice(0, 10);
    out.push(row);
  };
  for (let i = m.trades.length - 1; i >= 0 && out.length < count; i--) {
    const t = m.trades[i]!;
    const start = candleStart(kind, unit, t.timestamp);
    if (start >= to) continue;
    if (cur === null || cur.start !== start) {
      flush();
      if (out.length >= count) break;
      cur = { start, o: t.price, h: t.price, l: t.price, c: t.price, v: 0, q: 0, ts: t.timestamp };
    }
    // Walking backwards: the first seen is the close, the last seen the open.
    cur.o = t.price;
    if (t.price > cur.h) cur.h = t.price;
    if (t.price < cur.l) cur.l = t.price;
    cur.v += t.volume;
    cur.q += t.price * t.volume;
  }
  if (out.length < count) flush();
  return out;
}
