/**
 * One market's state: mid price, the synthetic 30-level book, resting user
 * orders (price-time priority), session statistics and the public trade log.
 */
import { floor8, round, tickDown, tickUp, toTick } from "./num.ts";
import { createRng, type Rng } from "./rng.ts";
import type { SimMarketSpec, SimTrade } from "./types.ts";

export const BOOK_DEPTH = 30;

export interface SynthLevel {
  price: number;
  size: number;
}

/** An order as the engine keeps it (fields are mutated as it fills). */
export interface Order {
  readonly uuid: string;
  readonly accessKey: string;
  readonly market: string;
  readonly side: "bid" | "ask";
  readonly ordType: "limit" | "price" | "market" | "best";
  /** Unit price (limit, resting best) or total funds (price, best bid). */
  readonly price: number | null;
  readonly volume: number | null;
  readonly timeInForce: "ioc" | "fok" | "post_only" | null;
  readonly smpType: string | null;
  readonly identifier: string | null;
  readonly createdAt: number;
  state: "wait" | "watch" | "done" | "cancel";
  remainingVolume: number;
  executedVolume: number;
  executedFunds: number;
  reservedFee: number;
  remainingFee: number;
  paidFee: number;
  locked: number;
  preventedVolume: number;
  preventedLocked: number;
  tradesCount: number;
  readonly trades: OrderTrade[];
  updatedAt: number;
}

export interface OrderTrade {
  readonly uuid: string;
  readonly price: number;
  readonly volume: number;
  readonly funds: number;
  readonly trend: "up" | "down";
  readonly createdAt: number;
  readonly side: "bid" | "ask";
}

export interface UserLevel {
  readonly price: number;
  readonly orders: Order[];
  size: number;
}

const DEFAULT_PRICES: Readonly<Record<string, number>> = {
  "KRW-BTC": 100_000_000,
  "KRW-ETH": 5_000_000,
  "KRW-XRP": 3_000,
  "KRW-SOL": 250_000,
  "KRW-DOGE": 300,
  "BTC-ETH": 0.035,
  "BTC-XRP": 0.00002,
  "USDT-BTC": 100_000,
  "USDT-ETH": 3_500,
};

const NAMES: Readonly<Record<string, readonly [string, string]>> = {
  BTC: ["비트코인", "Bitcoin"],
  ETH: ["이더리움", "Ethereum"],
  XRP: ["리플", "XRP"],
  SOL: ["솔라나", "Solana"],
  DOGE: ["도지코인", "Dogecoin"],
};

/** Quote value of one synthetic book level, by quote currency. */
const LEVEL_VALUE: Readonly<Record<string, number>> = { KRW: 30_000_000, BTC: 0.3, USDT: 20_000 };

export class Market {
  readonly code: string;
  readonly quote: string;
  readonly base: string;
  readonly koreanName: string;
  readonly englishName: string;
  readonly startPrice: number;
  readonly levelValue: number;
  rng: Rng;
  mid: number;
  asks: SynthLevel[] = [];
  bids: SynthLevel[] = [];
  /** Resting user orders, best first. */
  userAsks: UserLevel[] = [];
  userBids: UserLevel[] = [];
  // Session statistics (UTC day).
  day = "";
  dayStart = 0;
  open: number;
  high: number;
  low: number;
  prevClose: number;
  last: number;
  lastVolume = 0;
  lastAskBid: "ASK" | "BID" = "BID";
  lastTs = 0;
  accVolume = 0;
  accPrice = 0;
  accAsk = 0;
  accBid = 0;
  high52: number;
  high52Date = "";
  low52: number;
  low52Date = "";
  trades: SimTrade[] = [];
  bookTs = 0;

  constructor(spec: string | SimMarketSpec, seed: number | string) {
    const s = typeof spec === "string" ? { market: spec } : spec;
    this.code = s.market;
    const [quote, base] = s.market.split("-") as [string, string];
    this.quote = quote;
    this.base = base;
    const names = NAMES[base];
    this.koreanName = s.koreanName ?? names?.[0] ?? base;
    this.englishName = s.englishName ?? names?.[1] ?? base;
    const fallback = quote === "KRW" ? 10_000 : quote === "BTC" ? 0.001 : 10;
    this.startPrice = toTick(quote, s.price ?? DEFAULT_PRICES[s.market] ?? fallback);
    this.levelValue = LEVEL_VALUE[quote] ?? 10_000;
    this.rng = createRng(`${seed}/${s.market}`);
    this.mid = this.startPrice;
    this.open = this.high = this.low = this.prevClose = this.last = this.startPrice;
    this.high52 = this.low52 = this.startPrice;
  }

  /** Back to the seed's first state (user orders are dropped by the caller). */
  resetTo(seed: number | string): void {
    this.rng = createRng(`${seed}/${this.code}`);
    this.mid = this.startPrice;
    this.asks = [];
    this.bids = [];
    this.userAsks = [];
    this.userBids = [];
    this.day = "";
    this.dayStart = 0;
    this.open = this.high = this.low = this.prevClose = this.last = this.startPrice;
    this.high52 = this.low52 = this.startPrice;
    this.high52Date = this.low52Date = "";
    this.lastVolume = this.accVolume = this.accPrice = this.accAsk = this.accBid = 0;
    this.lastTs = 0;
    this.trades = [];
  }

  /** Random-walks the mid price by up to two ticks. */
  walk(): void {
    const r = this.rng.next();
    const steps = r < 0.3 ? -1 : r < 0.6 ? 1 : r < 0.7 ? -2 : r < 0.8 ? 2 : 0;
    let p = this.mid;
    for (let i = 0; i < Math.abs(steps); i++)
      p = steps > 0 ? tickUp(this.quote, p) : tickDown(this.quote, p);
    if (p > 0) this.mid = p;
  }

  /** Regenerates the synthetic book around the mid: best ask one tick above, best bid one tick below (the mid is free for makers). */
  regenerateBook(now: number): void {
    const asks: SynthLevel[] = [];
    const bids: SynthLevel[] = [];
    let a = tickUp(this.quote, this.mid);
    let b = tickDown(this.quote, this.mid);
    for (let i = 0; i < BOOK_DEPTH; i++) {
      asks.push({ price: a, size: this.levelSize(a) });
      if (b > 0) bids.push({ price: b, size: this.levelSize(b) });
      a = tickUp(this.quote, a);
      b = tickDown(this.quote, b);
    }
    this.asks = asks;
    this.bids = bids;
    this.bookTs = now;
  }

  levelSize(price: number): number {
    return Math.max(0.00000001, floor8(((0.2 + this.rng.next() * 1.8) * this.levelValue) / price));
  }

  /** A synthetic taker's size: a few percent of one level. */
  syntheticVolume(price: number): number {
    return Math.max(0.00000001, floor8((this.rng.next() * 0.05 * this.levelValue) / price));
  }

  /** Records a public trade and updates the session statistics. */
  recordTrade(trade: SimTrade, limit: number): void {
    const dayStart = trade.timestamp - (trade.timestamp % 86_400_000);
    if (dayStart !== this.dayStart) {
      if (this.dayStart !== 0) {
        this.prevClose = this.last;
        this.open = trade.price;
        this.high = this.low = trade.price;
        this.accVolume = this.accPrice = this.accAsk = this.accBid = 0;
      }
      this.dayStart = dayStart;
      this.day = new Date(dayStart).toISOString().slice(0, 10);
    }
    if (trade.price > this.high) this.high = trade.price;
    if (trade.price < this.low) this.low = trade.price;
    if (trade.price >= this.high52 || this.high52Date === "") {
      this.high52 = Math.max(this.high52, trade.price);
      this.high52Date = this.day;
    }
    if (trade.price <= this.low52 || this.low52Date === "") {
      this.low52 = Math.min(this.low52, trade.price);
      this.low52Date = this.day;
    }
    this.last = trade.price;
    this.lastVolume = trade.volume;
    this.lastAskBid = trade.askBid;
    this.lastTs = trade.timestamp;
    this.accVolume = round(this.accVolume + trade.volume);
    this.accPrice = round(this.accPrice + trade.price * trade.volume);
    if (trade.askBid === "ASK") this.accAsk = round(this.accAsk + trade.volume);
    else this.accBid = round(this.accBid + trade.volume);
    this.trades.push(trade);
    // Trim in chunks so that keeping a bounded log stays O(1) per trade.
    if (this.trades.length > limit + Math.max(1024, limit >> 3))
      this.trades.splice(0, this.trades.length - limit);
  }

  /** The merged visible book (synthetic + user orders), best first, at most `depth` levels a side. */
  book(depth: number): { asks: [number, number][]; bids: [number, number][] } {
    return {
      asks: merge(this.asks, this.userAsks, depth, true),
      bids: merge(this.bids, this.userBids, depth, false),
    };
  }

  /** Best ask [price, size] of the merged book, or [0, 0]. */
  bestAsk(): [number, number] {
    return best(this.asks, this.userAsks, true);
  }

  bestBid(): [number, number] {
    return best(this.bids, this.userBids, false);
  }
}

function best(
  synth: readonly SynthLevel[],
  user: readonly UserLevel[],
  ascending: boolean,
): [number, number] {
  let s: SynthLevel | undefined;
  for (const l of synth)
    if (l.size > 0) {
      s = l;
      break;
    }
  let u: UserLevel | undefined;
  for (const l of user)
    if (l.size > 0) {
      u = l;
      break;
    }
  if (s === undefined) return u === undefined ? [0, 0] : [u.price, u.size];
  if (u === undefined) return [s.price, s.size];
  if (s.price === u.price) return [s.price, round(s.size + u.size)];
  return (ascending ? u.price < s.price : u.price > s.price)
    ? [u.price, u.size]
    : [s.price, s.size];
}

function merge(
  synth: readonly SynthLevel[],
  user: readonly UserLevel[],
  depth: number,
  ascending: boolean,
): [number, number][] {
  const out: [number, number][] = [];
  let i = 0;
  let j = 0;
  while (out.length < depth) {
    while (i < synth.length && synth[i]!.size <= 0) i++;
    while (j < user.length && user[j]!.size <= 0) j++;
    const s = synth[i];
    const u = user[j];
    if (s === undefined && u === undefined) break;
    let price: number;
    let size: number;
    if (
      u === undefined ||
      (s !== undefined && (ascending ? s.price < u.price : s.price > u.price))
    ) {
      price = s!.price;
      size = s!.size;
      i++;
    } else if (s === undefined || s.price !== u.price) {
      price = u.price;
      size = u.size;
      j++;
    } else {
      price = s.price;
      size = round(s.size + u.size);
      i++;
      j++;
    }
    out.push([price, size]);
  }
  return out;
}
