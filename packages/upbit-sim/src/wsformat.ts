/** WebSocket message bodies (DEFAULT and SIMPLE keys) for each data type. */
import type { Market, Order } from "./market.ts";
import { round } from "./num.ts";
import type { SimFill, SimTrade } from "./types.ts";
import { binaryFrame } from "./wsframe.ts";

export const Format = {
  Default: "DEFAULT",
  Simple: "SIMPLE",
  JsonList: "JSON_LIST",
  SimpleList: "SIMPLE_LIST",
} as const;
export type Format = (typeof Format)[keyof typeof Format];

export const FORMATS: readonly Format[] = ["DEFAULT", "SIMPLE", "JSON_LIST", "SIMPLE_LIST"];

export type StreamType = "SNAPSHOT" | "REALTIME";

/** A message in both key styles; each style is built only when a subscriber asks for it. */
export interface Pair {
  readonly full: () => Record<string, unknown>;
  readonly simple: () => Record<string, unknown>;
}

function body(p: Pair, format: Format): unknown {
  return format === "DEFAULT"
    ? p.full()
    : format === "SIMPLE"
      ? p.simple()
      : format === "JSON_LIST"
        ? [p.full()]
        : [p.simple()];
}

/** The JSON payload of a message in a format. */
export function serialize(p: Pair, format: Format): Buffer {
  return Buffer.from(JSON.stringify(body(p, format)));
}

/** The message as a complete binary WebSocket frame (the JSON written straight after the header). */
export function frame(p: Pair, format: Format): Buffer {
  return binaryFrame(JSON.stringify(body(p, format)));
}

let cachedSecond = -1;
let cachedYmd = "";
let cachedHms = "";

/** Date parts of a timestamp, cached per second (many messages share one). */
function parts(ms: number): void {
  const sec = Math.floor(ms / 1000);
  if (sec === cachedSecond) return;
  const iso = new Date(sec * 1000).toISOString();
  cachedSecond = sec;
  cachedYmd = iso.slice(0, 10);
  cachedHms = iso.slice(11, 19);
}

function ymd(ms: number): string {
  parts(ms);
  return cachedYmd;
}

function hms(ms: number): string {
  parts(ms);
  return cachedHms;
}

export function tickerMsg(m: Market, st: StreamType, now: number): Pair {
  const cp = round(m.last - m.prevClose);
  const cr = m.prevClose > 0 ? round(cp / m.prevClose) : 0;
  const change = cp > 0 ? "RISE" : cp < 0 ? "FALL" : "EVEN";
  const ts = m.lastTs || now;
  const day = ymd(ts);
  const tdt = day.replaceAll("-", "");
  const ttm = hms(ts).replaceAll(":", "");
  const h52d = m.high52Date || day;
  const l52d = m.low52Date || day;
  return {
    full: () => ({
      type: "ticker",
      code: m.code,
      opening_price: m.open,
      high_price: m.high,
      low_price: m.low,
      trade_price: m.last,
      prev_closing_price: m.prevClose,
      change,
      change_price: Math.abs(cp),
      signed_change_price: cp,
      change_rate: Math.abs(cr),
      signed_change_rate: cr,
      trade_volume: m.lastVolume,
      acc_trade_volume: m.accVolume,
      acc_trade_volume_24h: m.accVolume,
      acc_trade_price: m.accPrice,
      acc_trade_price_24h: m.accPrice,
      trade_date: tdt,
      trade_time: ttm,
      trade_timestamp: ts,
      ask_bid: m.lastAskBid,
      acc_ask_volume: m.accAsk,
      acc_bid_volume: m.accBid,
      highest_52_week_price: m.high52,
      highest_52_week_date: h52d,
      lowest_52_week_price: m.low52,
      lowest_52_week_date: l52d,
      market_state: "ACTIVE",
      is_trading_suspended: false,
      delisting_date: null,
      market_warning: "NONE",
      timestamp: now,
      stream_type: st,
    }),
    simple: () => ({
      ty: "ticker",
      cd: m.code,
      op: m.open,
      hp: m.high,
      lp: m.low,
      tp: m.last,
      pcp: m.prevClose,
      c: change,
      cp: Math.abs(cp),
      scp: cp,
      cr: Math.abs(cr),
      scr: cr,
      tv: m.lastVolume,
      atv: m.accVolume,
      atv24h: m.accVolume,
      atp: m.accPrice,
      atp24h: m.accPrice,
      tdt,
      ttm,
      ttms: ts,
      ab: m.lastAskBid,
      aav: m.accAsk,
      abv: m.accBid,
      h52wp: m.high52,
      h52wdt: h52d,
      l52wp: m.low52,
      l52wdt: l52d,
      ms: "ACTIVE",
      its: false,
      dd: null,
      mw: "NONE",
      tms: now,
      st,
    }),
  };
}

export function tradeMsg(m: Market, t: SimTrade, st: StreamType): Pair {
  const ba = m.bestAsk();
  const bb = m.bestBid();
  const cp = round(Math.abs(t.price - t.prevClosingPrice));
  const change =
    t.price > t.prevClosingPrice ? "RISE" : t.price < t.prevClosingPrice ? "FALL" : "EVEN";
  const td = ymd(t.timestamp);
  const ttm = hms(t.timestamp);
  return {
    full: () => ({
      type: "trade",
      code: m.code,
      timestamp: t.timestamp,
      trade_date: td,
      trade_time: ttm,
      trade_timestamp: t.timestamp,
      trade_price: t.price,
      trade_volume: t.volume,
      ask_bid: t.askBid,
      prev_closing_price: t.prevClosingPrice,
      change,
      change_price: cp,
      sequential_id: t.sequentialId,
      best_ask_price: ba[0],
      best_ask_size: ba[1],
      best_bid_price: bb[0],
      best_bid_size: bb[1],
      stream_type: st,
    }),
    simple: () => ({
      ty: "trade",
      cd: m.code,
      tms: t.timestamp,
      td,
      ttm,
      ttms: t.timestamp,
      tp: t.price,
      tv: t.volume,
      ab: t.askBid,
      pcp: t.prevClosingPrice,
      c: change,
      cp,
      sid: t.sequentialId,
      bap: ba[0],
      bas: ba[1],
      bbp: bb[0],
      bbs: bb[1],
      st,
    }),
  };
}

export function orderbookMsg(m: Market, depth: number, st: StreamType, now: number): Pair {
  const book = m.book(depth);
  let ta = 0;
  let tb = 0;
  const n = Math.max(book.asks.length, book.bids.length);
  for (let i = 0; i < n; i++) {
    ta += book.asks[i]?.[1] ?? 0;
    tb += book.bids[i]?.[1] ?? 0;
  }
  const units = (simple: boolean) => {
    const out = [];
    for (let i = 0; i < n; i++) {
      const a = book.asks[i] ?? [0, 0];
      const b = book.bids[i] ?? [0, 0];
      out.push(
        simple
          ? { ap: a[0], bp: b[0], as: a[1], bs: b[1] }
          : { ask_price: a[0], bid_price: b[0], ask_size: a[1], bid_size: b[1] },
      );
    }
    return out;
  };
  const ts = m.bookTs || now;
  const tas = round(ta);
  const tbs = round(tb);
  return {
    full: () => ({
      type: "orderbook",
      code: m.code,
      timestamp: ts,
      total_ask_size: tas,
      total_bid_size: tbs,
      orderbook_units: units(false),
      stream_type: st,
      level: 0,
    }),
    simple: () => ({ ty: "orderbook", cd: m.code, tms: ts, tas, tbs, obu: units(true), st, lv: 0 }),
  };
}

export function myOrderMsg(o: Order, fill: SimFill | null, now: number): Pair {
  const state = fill !== null ? "trade" : o.state;
  const avg = o.executedVolume > 0 ? round(o.executedFunds / o.executedVolume) : 0;
  const price = fill !== null ? fill.price : o.price;
  const volume = fill !== null ? fill.volume : o.volume;
  const tradeTs = fill !== null ? fill.timestamp : null;
  return {
    full: () => ({
      type: "myOrder",
      code: o.market,
      uuid: o.uuid,
      ask_bid: o.side === "bid" ? "BID" : "ASK",
      order_type: o.ordType,
      state,
      trade_uuid: fill?.tradeUuid ?? null,
      price,
      avg_price: avg,
      volume,
      remaining_volume: o.remainingVolume,
      executed_volume: o.executedVolume,
      trades_count: o.tradesCount,
      reserved_fee: o.reservedFee,
      remaining_fee: o.remainingFee,
      paid_fee: o.paidFee,
      locked: o.locked,
      executed_funds: o.executedFunds,
      time_in_force: o.timeInForce,
      trade_fee: fill?.fee ?? null,
      is_maker: fill?.isMaker ?? null,
      identifier: o.identifier,
      smp_type: o.smpType,
      prevented_volume: o.preventedVolume,
      prevented_locked: o.preventedLocked,
      trade_timestamp: tradeTs,
      order_timestamp: o.createdAt,
      timestamp: now,
      stream_type: "REALTIME",
    }),
    simple: () => ({
      ty: "myOrder",
      cd: o.market,
      uid: o.uuid,
      ab: o.side === "bid" ? "BID" : "ASK",
      ot: o.ordType,
      s: state,
      tuid: fill?.tradeUuid ?? null,
      p: price,
      ap: avg,
      v: volume,
      rv: o.remainingVolume,
      ev: o.executedVolume,
      tc: o.tradesCount,
      rsf: o.reservedFee,
      rmf: o.remainingFee,
      pf: o.paidFee,
      l: o.locked,
      ef: o.executedFunds,
      tif: o.timeInForce,
      tf: fill?.fee ?? null,
      im: fill?.isMaker ?? null,
      id: o.identifier,
      smpt: o.smpType,
      pv: o.preventedVolume,
      pl: o.preventedLocked,
      ttms: tradeTs,
      otms: o.createdAt,
      tms: now,
      st: "REALTIME",
    }),
  };
}

export function myAssetMsg(
  assetUuid: string,
  assets: readonly { currency: string; balance: number; locked: number }[],
  now: number,
): Pair {
  return {
    full: () => ({
      type: "myAsset",
      asset_uuid: assetUuid,
      assets: assets.map((a) => ({ currency: a.currency, balance: a.balance, locked: a.locked })),
      asset_timestamp: now,
      timestamp: now,
      stream_type: "REALTIME",
    }),
    simple: () => ({
      ty: "myAsset",
      astuid: assetUuid,
      ast: assets.map((a) => ({ cu: a.currency, b: a.balance, l: a.locked })),
      asttms: now,
      tms: now,
      st: "REALTIME",
    }),
  };
}

export interface CandleState {
  start: number;
  o: number;
  h: number;
  l: number;
  c: number;
  v: number;
  q: number;
  ts: number;
}

const KST_MS = 9 * 3600_000;

export function candleMsg(type: string, code: string, k: CandleState, st: StreamType): Pair {
  const utc = new Date(k.start).toISOString().slice(0, 19);
  const kst = new Date(k.start + KST_MS).toISOString().slice(0, 19);
  const v = round(k.v);
  const q = round(k.q);
  return {
    full: () => ({
      type,
      code,
      candle_date_time_utc: utc,
      candle_date_time_kst: kst,
      opening_price: k.o,
      high_price: k.h,
      low_price: k.l,
      trade_price: k.c,
      candle_acc_trade_volume: v,
      candle_acc_trade_price: q,
      timestamp: k.ts,
      stream_type: st,
    }),
    simple: () => ({
      ty: type,
      cd: code,
      cdttmu: utc,
      cdttmk: kst,
      op: k.o,
      hp: k.h,
      lp: k.l,
      tp: k.c,
      catv: v,
      catp: q,
      tms: k.ts,
      st,
    }),
  };
}
