/**
 * The exchange: markets, accounts, orders and matching. No I/O; the clock is
 * injected and every change is reported through {@link ExchangeListener}.
 */
import { randomUUID } from "node:crypto";
import { type KeyRecord, keyRecord } from "./auth.ts";
import { SimConfigError } from "./errors.ts";
import { BOOK_DEPTH, Market, type Order, type UserLevel } from "./market.ts";
import { floor8, isOnTick, parseDec, round, tickSize } from "./num.ts";
import type { SimAccount, SimFill, SimMarketSpec, SimTrade } from "./types.ts";

export interface ApiError {
  readonly status: number;
  readonly name: string;
  readonly message: string;
}

export function apiError(status: number, name: string, message: string): ApiError {
  return { status, name, message };
}

export interface Balance {
  balance: number;
  locked: number;
  avgBuyPrice: number;
}

export interface Account {
  readonly key: KeyRecord;
  readonly pocket: string;
  readonly balances: Map<string, Balance>;
  readonly identifiers: Set<string>;
  readonly byIdentifier: Map<string, Order>;
  readonly orders: Order[];
  readonly initial: Readonly<Record<string, string>>;
}

export interface FillEvent {
  readonly fill: SimFill;
  readonly order: Order;
}

export interface ExchangeListener {
  trade(market: Market, trade: SimTrade): void;
  orderbook(market: Market): void;
  myOrder(order: Order, fill: SimFill | null): void;
  myAsset(accessKey: string, currencies: readonly string[]): void;
}

export const FEES: Readonly<Record<string, number>> = { KRW: 0.0005, BTC: 0.0025, USDT: 0.0025 };
export const MIN_TOTAL: Readonly<Record<string, number>> = { KRW: 5000, BTC: 0.00005, USDT: 0.5 };
export const MAX_TOTAL: Readonly<Record<string, number>> = {
  KRW: 1_000_000_000,
  BTC: 10,
  USDT: 1_000_000,
};

export interface OrderRequest {
  readonly market?: unknown;
  readonly side?: unknown;
  readonly ord_type?: unknown;
  readonly volume?: unknown;
  readonly price?: unknown;
  readonly time_in_force?: unknown;
  readonly smp_type?: unknown;
  readonly identifier?: unknown;
}

interface ValidOrder {
  market: Market;
  side: "bid" | "ask";
  ordType: "limit" | "price" | "market" | "best";
  price: number | null;
  volume: number | null;
  timeInForce: "ioc" | "fok" | "post_only" | null;
  smpType: string | null;
  identifier: string | null;
}

const SEQ_BASE = 1_000_000_000_000;

export class Exchange {
  readonly markets = new Map<string, Market>();
  readonly accounts = new Map<string, Account>();
  readonly orders = new Map<string, Order>();
  readonly fills: SimFill[] = [];
  readonly offline = new Set<string>();
  #seq = SEQ_BASE;
  #seed: number | string;
  readonly #now: () => number;
  readonly #tradeLimit: number;
  readonly #tradesPerTick: number | undefined;
  listener: ExchangeListener | null = null;

  constructor(options: {
    seed: number | string;
    markets: readonly (string | SimMarketSpec)[];
    accounts: readonly SimAccount[];
    now: () => number;
    tradeLogLimit: number;
    tradesPerTick: number | undefined;
  }) {
    this.#seed = options.seed;
    this.#now = options.now;
    this.#tradeLimit = options.tradeLogLimit;
    this.#tradesPerTick = options.tradesPerTick;
    for (const spec of options.markets) {
      const m = new Market(spec, options.seed);
      this.markets.set(m.code, m);
    }
    for (const a of options.accounts) this.addAccount(a);
    for (const m of this.markets.values()) m.regenerateBook(this.#now());
  }

  addAccount(a: SimAccount): void {
    const acc: Account = {
      key: keyRecord(a),
      pocket: a.pocket ?? a.accessKey,
      balances: new Map(),
      identifiers: new Set(),
      byIdentifier: new Map(),
      orders: [],
      initial: { ...(a.balances ?? {}) },
    };
    for (const [cur, v] of Object.entries(acc.initial))
      acc.balances.set(cur, { balance: Number(v), locked: 0, avgBuyPrice: 0 });
    this.accounts.set(a.accessKey, acc);
  }

  reset(): void {
    for (const m of this.markets.values()) {
      m.resetTo(this.#seed);
      m.regenerateBook(this.#now());
    }
    this.orders.clear();
    this.fills.length = 0;
    this.#seq = SEQ_BASE;
    for (const acc of this.accounts.values()) {
      acc.balances.clear();
      acc.identifiers.clear();
      acc.byIdentifier.clear();
      acc.orders.length = 0;
      for (const [cur, v] of Object.entries(acc.initial))
        acc.balances.set(cur, { balance: Number(v), locked: 0, avgBuyPrice: 0 });
    }
  }

  balance(acc: Account, currency: string): Balance {
    let b = acc.balances.get(currency);
    if (b === undefined) {
      b = { balance: 0, locked: 0, avgBuyPrice: 0 };
      acc.balances.set(currency, b);
    }
    return b;
  }

  setBalance(accessKey: string, currency: string, amount: string): void {
    const acc = this.accounts.get(accessKey);
    if (acc === undefined)
      throw new SimConfigError("SIM_UNKNOWN_ACCOUNT", `unknown account ${accessKey}`);
    this.balance(acc, currency).balance = Number(amount);
    this.listener?.myAsset(accessKey, [currency]);
  }

  // ---------------------------------------------------------------- market

  /** One step of every market: walk, new book, crossing fills, synthetic trades. */
  tick(): void {
    for (const m of this.markets.values()) this.#step(m);
  }

  #step(m: Market): void {
    const now = this.#now();
    m.walk();
    m.regenerateBook(now);
    this.#cross(m, now);
    const n = this.#tradesPerTick ?? m.rng.int(1, 3);
    for (let i = 0; i < n; i++) {
      const side = m.rng.next() < 0.5 ? "bid" : "ask";
      const best = side === "bid" ? m.asks[0] : m.bids[0];
      if (best === undefined) continue;
      const vol = m.syntheticVolume(best.price);
      this.#take(m, null, side, null, vol, null, now);
    }
    this.listener?.orderbook(m);
  }

  setPrice(code: string, price: number): void {
    const m = this.#market(code);
    const now = this.#now();
    const tick = tickSize(m.quote, price);
    m.mid = Math.max(tick, round(Math.round(price / tick) * tick));
    m.regenerateBook(now);
    this.#cross(m, now);
    this.listener?.orderbook(m);
  }

  #market(code: string): Market {
    const m = this.markets.get(code);
    if (m === undefined) throw new SimConfigError("SIM_UNKNOWN_MARKET", `unknown market ${code}`);
    return m;
  }

  /** Resting user orders that the new synthetic book crosses fill as makers at their own price. */
  #cross(m: Market, now: number): void {
    for (;;) {
      const ub = m.userBids[0];
      const sa = firstLive(m.asks);
      if (ub === undefined || sa === undefined || ub.price < sa.price) break;
      const order = ub.orders[0]!;
      const vol = Math.min(sa.size, order.remainingVolume);
      sa.size = round(sa.size - vol);
      this.#fillMaker(m, ub, order, vol, "ASK", now);
    }
    for (;;) {
      const ua = m.userAsks[0];
      const sb = firstLive(m.bids);
      if (ua === undefined || sb === undefined || ua.price > sb.price) break;
      const order = ua.orders[0]!;
      const vol = Math.min(sb.size, order.remainingVolume);
      sb.size = round(sb.size - vol);
      this.#fillMaker(m, ua, order, vol, "BID", now);
    }
  }

  #fillMaker(
    m: Market,
    level: UserLevel,
    order: Order,
    vol: number,
    aggressor: "ASK" | "BID",
    now: number,
  ): void {
    const price = level.price;
    this.#publicTrade(m, price, vol, aggressor, now);
    level.size = round(level.size - vol);
    this.#applyFill(m, order, price, vol, true, now);
    if (order.remainingVolume <= 0) {
      level.orders.shift();
      if (level.orders.length === 0)
        removeLevel(order.side === "bid" ? m.userBids : m.userAsks, level);
      this.#finish(order, "done", now);
    }
  }

  #publicTrade(m: Market, price: number, volume: number, askBid: "ASK" | "BID", now: number): void {
    const trade: SimTrade = {
      market: m.code,
      sequentialId: ++this.#seq,
      timestamp: now,
      price,
      volume,
      askBid,
      prevClosingPrice: m.prevClose,
    };
    m.recordTrade(trade, this.#tradeLimit);
    this.listener?.trade(m, trade);
  }

  /**
   * Walks the opposite side (synthetic levels and resting user orders, price then
   * time priority) for a taker. `taker` null is synthetic flow. Returns the volume
   * and funds filled.
   */
  #take(
    m: Market,
    taker: Order | null,
    side: "bid" | "ask",
    limit: number | null,
    maxVolume: number | null,
    maxFunds: number | null,
    now: number,
  ): void {
    const synth = side === "bid" ? m.asks : m.bids;
    const users = side === "bid" ? m.userAsks : m.userBids;
    const aggressor = side === "bid" ? "BID" : "ASK";
    let volLeft = maxVolume ?? Number.POSITIVE_INFINITY;
    let fundsLeft = maxFunds ?? Number.POSITIVE_INFINITY;
    let si = 0;
    for (let guard = 0; guard < 100_000; guard++) {
      while (si < synth.length && synth[si]!.size <= 0) si++;
      const s = synth[si];
      const u = users[0];
      const better = (a: number, b: number) => (side === "bid" ? a < b : a > b);
      const useUser = u !== undefined && (s === undefined || better(u.price, s.price));
      const price = useUser ? u!.price : s?.price;
      if (price === undefined) break;
      if (limit !== null && (side === "bid" ? price > limit : price < limit)) break;
      const avail = useUser ? u!.orders[0]!.remainingVolume : s!.size;
      let vol = Math.min(avail, volLeft);
      if (maxFunds !== null) vol = Math.min(vol, floor8(fundsLeft / price));
      if (vol <= 0) break;
      if (useUser) {
        const maker = u!.orders[0]!;
        if (taker !== null && maker.accessKey === taker.accessKey && taker.smpType !== null) {
          const mode = taker.smpType;
          if (mode === "cancel_maker") {
            this.#prevent(m, u!, maker, maker.remainingVolume, now);
            continue;
          }
          if (mode === "cancel_taker") {
            taker.preventedVolume = round(
              taker.preventedVolume + (maxVolume === null ? 0 : volLeft),
            );
            break;
          }
          if (mode === "reduce") {
            this.#prevent(m, u!, maker, vol, now);
            taker.preventedVolume = round(taker.preventedVolume + vol);
            volLeft = round(volLeft - vol);
            if (taker.remainingVolume > 0 && taker.volume !== null)
              taker.remainingVolume = round(taker.remainingVolume - vol);
            continue;
          }
        }
        this.#publicTrade(m, price, vol, aggressor, now);
        if (taker !== null) this.#applyFill(m, taker, price, vol, false, now);
        this.#fillMakerNoTrade(m, u!, maker, vol, now);
      } else {
        s!.size = round(s!.size - vol);
        this.#publicTrade(m, price, vol, aggressor, now);
        if (taker !== null) this.#applyFill(m, taker, price, vol, false, now);
      }
      volLeft = round(volLeft - vol);
      fundsLeft = round(fundsLeft - price * vol);
      if (volLeft <= 0 || fundsLeft <= 0) break;
    }
  }

  #fillMakerNoTrade(m: Market, level: UserLevel, order: Order, vol: number, now: number): void {
    level.size = round(level.size - vol);
    this.#applyFill(m, order, level.price, vol, true, now);
    if (order.remainingVolume <= 0) {
      level.orders.shift();
      if (level.orders.length === 0)
        removeLevel(order.side === "bid" ? m.userBids : m.userAsks, level);
      this.#finish(order, "done", now);
    }
  }

  /** SMP: takes `vol` off a resting order without a trade. */
  #prevent(m: Market, level: UserLevel, order: Order, vol: number, now: number): void {
    level.size = round(level.size - vol);
    order.remainingVolume = round(order.remainingVolume - vol);
    order.preventedVolume = round(order.preventedVolume + vol);
    const acc = this.accounts.get(order.accessKey)!;
    const fee = FEES[m.quote] ?? 0.0025;
    const release = order.side === "bid" ? round(order.price! * vol * (1 + fee)) : vol;
    const cur = order.side === "bid" ? m.quote : m.base;
    const b = this.balance(acc, cur);
    const r = Math.min(release, order.locked);
    b.locked = round(b.locked - r);
    b.balance = round(b.balance + r);
    order.locked = round(order.locked - r);
    order.preventedLocked = round(order.preventedLocked + r);
    if (order.remainingVolume <= 0) {
      level.orders.shift();
      if (level.orders.length === 0)
        removeLevel(order.side === "bid" ? m.userBids : m.userAsks, level);
      this.#finish(order, "cancel", now);
    }
    this.listener?.myAsset(order.accessKey, [cur]);
  }

  #applyFill(
    m: Market,
    order: Order,
    price: number,
    vol: number,
    isMaker: boolean,
    now: number,
  ): void {
    const acc = this.accounts.get(order.accessKey)!;
    const rate = FEES[m.quote] ?? 0.0025;
    const funds = round(price * vol);
    const fee = round(funds * rate);
    const quote = this.balance(acc, m.quote);
    const base = this.balance(acc, m.base);
    if (order.side === "bid") {
      const unit = order.ordType === "limit" ? order.price! : price;
      const release = Math.min(round(unit * vol * (1 + rate)), order.locked);
      quote.locked = round(quote.locked - release);
      quote.balance = round(quote.balance + release - funds - fee);
      order.locked = round(order.locked - release);
      const held = base.balance + base.locked;
      base.avgBuyPrice =
        held + vol > 0 ? round((held * base.avgBuyPrice + funds) / (held + vol)) : 0;
      base.balance = round(base.balance + vol);
      order.remainingFee = Math.max(0, round(order.remainingFee - unit * vol * rate));
    } else {
      const release = Math.min(vol, order.locked);
      base.locked = round(base.locked - release);
      order.locked = round(order.locked - release);
      quote.balance = round(quote.balance + funds - fee);
      order.remainingFee = Math.max(0, round(order.remainingFee - fee));
    }
    order.executedVolume = round(order.executedVolume + vol);
    order.executedFunds = round(order.executedFunds + funds);
    order.paidFee = round(order.paidFee + fee);
    if (order.volume !== null) order.remainingVolume = round(order.remainingVolume - vol);
    order.tradesCount += 1;
    order.updatedAt = now;
    const tradeUuid = randomUUID();
    order.trades.push({
      uuid: tradeUuid,
      price,
      volume: vol,
      funds,
      trend: price >= m.last ? "up" : "down",
      createdAt: now,
      side: order.side,
    });
    const fill: SimFill = {
      tradeUuid,
      orderUuid: order.uuid,
      accessKey: order.accessKey,
      identifier: order.identifier,
      market: m.code,
      side: order.side,
      price,
      volume: vol,
      funds,
      fee,
      isMaker,
      timestamp: now,
    };
    this.fills.push(fill);
    this.listener?.myOrder(order, fill);
    this.listener?.myAsset(order.accessKey, [m.quote, m.base]);
  }

  #finish(order: Order, state: "done" | "cancel", now: number): void {
    if (order.state === "done" || order.state === "cancel") return;
    const acc = this.accounts.get(order.accessKey)!;
    const m = this.markets.get(order.market)!;
    if (order.locked > 0) {
      const cur = order.side === "bid" ? m.quote : m.base;
      const b = this.balance(acc, cur);
      b.locked = round(b.locked - order.locked);
      b.balance = round(b.balance + order.locked);
      order.locked = 0;
      this.listener?.myAsset(order.accessKey, [cur]);
    }
    if (state === "cancel") order.remainingFee = 0;
    order.state = state;
    order.updatedAt = now;
    this.listener?.myOrder(order, null);
  }

  // ---------------------------------------------------------------- orders

  /** Validates an order request; the same checks serve POST orders and POST orders/test. */
  validate(acc: Account, req: OrderRequest, test: boolean): ValidOrder | ApiError {
    if (typeof req.market !== "string" || req.market === "")
      return apiError(400, "validation_error", "market is missing");
    if (req.side !== "bid" && req.side !== "ask")
      return apiError(400, "validation_error", "side is missing, side does not have a valid value");
    const side = req.side;
    const ord = req.ord_type;
    if (ord !== "limit" && ord !== "price" && ord !== "market" && ord !== "best")
      return apiError(
        400,
        "validation_error",
        "ord_type is missing, ord_type does not have a valid value",
      );
    const createErr = apiError(400, `create_${side}_error`, "주문 파라미터를 다시 확인해 주세요.");
    const has = (v: unknown) => v !== undefined && v !== null;
    const needVolume = ord === "limit" || ord === "market" || (ord === "best" && side === "ask");
    const needPrice = ord === "limit" || ord === "price" || (ord === "best" && side === "bid");
    if (ord === "price" && side !== "bid") return createErr;
    if (ord === "market" && side !== "ask") return createErr;
    if (needVolume !== has(req.volume) || needPrice !== has(req.price)) return createErr;
    const tif = req.time_in_force ?? null;
    if (tif !== null && tif !== "ioc" && tif !== "fok" && tif !== "post_only")
      return apiError(400, "invalid_time_in_force", "주문조건을 다시 확인해 주세요.");
    if (ord === "best" && tif !== "ioc" && tif !== "fok")
      return apiError(400, "invalid_time_in_force", "주문조건을 다시 확인해 주세요.");
    if ((ord === "price" || ord === "market") && tif !== null)
      return apiError(400, "invalid_time_in_force", "주문조건을 다시 확인해 주세요.");
    const smp = req.smp_type ?? null;
    if (
      smp !== null &&
      smp !== "cancel_maker" &&
      smp !== "cancel_taker" &&
      smp !== "reduce" &&
      smp !== "none"
    )
      return apiError(400, "invalid_parameter", "잘못된 파라미터");
    if (tif === "post_only" && smp !== null)
      return apiError(
        400,
        "invalid_post_only",
        "post_only 주문은 smp_type과 함께 사용할 수 없습니다.",
      );
    const identifier = req.identifier ?? null;
    if (identifier !== null) {
      if (typeof identifier !== "string" || identifier.length === 0 || identifier.length > 64)
        return apiError(400, "invalid_parameter", "잘못된 파라미터");
      if (acc.identifiers.has(identifier))
        return apiError(400, "duplicated_identifier", "중복된 identifier 입니다.");
      if (!test) acc.identifiers.add(identifier);
    }
    const m = this.markets.get(req.market);
    if (m === undefined)
      return apiError(400, "notfoundmarket", `다음 마켓에 없는 종목입니다: ${req.market}`);
    if (this.offline.has(m.code))
      return apiError(
        403,
        "market_offline",
        "시스템 점검 중입니다. 점검이 완료된 후에 다시 시도해주세요.",
      );
    const price = has(req.price) ? parseDec(req.price) : null;
    const volume = has(req.volume) ? parseDec(req.volume) : null;
    if (price !== null && !(price > 0))
      return apiError(400, "invalid_parameter", "잘못된 파라미터");
    if (volume !== null && !(volume > 0))
      return apiError(400, `invalid_volume_${side}`, "주문 수량을 다시 확인해 주세요.");
    if (ord === "limit" && price !== null && !isOnTick(m.quote, price))
      return apiError(
        400,
        `invalid_price_${side}`,
        "주문가격 단위를 잘못 입력하셨습니다. 확인 후 시도해주세요.",
      );
    const fee = FEES[m.quote] ?? 0.0025;
    const bestBid = m.book(1).bids[0]?.[0] ?? m.mid;
    const total =
      ord === "limit"
        ? price! * volume!
        : ord === "price" || (ord === "best" && side === "bid")
          ? price!
          : volume! * bestBid;
    const min = MIN_TOTAL[m.quote] ?? 0;
    const max = MAX_TOTAL[m.quote] ?? Number.POSITIVE_INFINITY;
    if (total < min)
      return apiError(
        400,
        `under_min_total_${side}`,
        `최소주문금액 이상으로 주문해주세요. (${min} ${m.quote})`,
      );
    if (total > max)
      return apiError(
        400,
        `over_krw_funds_${side}`,
        `최대 주문 가능 금액 ${max} ${m.quote} 보다 작은 주문을 입력해 주세요.`,
      );
    if (side === "bid") {
      if (round(total * (1 + fee)) > this.balance(acc, m.quote).balance)
        return apiError(
          400,
          "insufficient_funds_bid",
          `주문 가능한 금액(${m.quote})이 부족합니다.`,
        );
    } else if (volume! > this.balance(acc, m.base).balance)
      return apiError(400, "insufficient_funds_ask", `주문 가능한 금액(${m.base})이 부족합니다.`);
    if (ord === "price" || ord === "market") {
      const depth = m.book(BOOK_DEPTH);
      if (ord === "price") {
        const value = depth.asks.reduce((s, [p, v]) => s + p * v, 0);
        if (price! > value)
          return apiError(400, "invalid_funds", "호가 잔량을 초과하는 주문입니다.");
      } else {
        const vol = depth.bids.reduce((s, [, v]) => s + v, 0);
        if (volume! > vol)
          return apiError(400, "volume_too_large", "호가 잔량을 초과하는 주문입니다.");
      }
    }
    return {
      market: m,
      side,
      ordType: ord,
      price,
      volume,
      timeInForce: tif as ValidOrder["timeInForce"],
      smpType: smp === "none" ? null : (smp as string | null),
      identifier: identifier as string | null,
    };
  }

  /** Builds the order object an order test returns: validated, never stored. */
  testOrder(acc: Account, v: ValidOrder): Order {
    return this.#newOrder(acc, v);
  }

  #newOrder(acc: Account, v: ValidOrder): Order {
    const now = this.#now();
    const fee = FEES[v.market.quote] ?? 0.0025;
    let locked: number;
    let reserved = 0;
    if (v.side === "bid") {
      const total = v.ordType === "limit" ? v.price! * v.volume! : v.price!;
      reserved = round(total * fee);
      locked = round(total + reserved);
    } else locked = v.volume!;
    return {
      uuid: randomUUID(),
      accessKey: acc.key.accessKey,
      market: v.market.code,
      side: v.side,
      ordType: v.ordType,
      price: v.price,
      volume: v.volume,
      timeInForce: v.timeInForce,
      smpType: v.smpType,
      identifier: v.identifier,
      createdAt: now,
      state: "wait",
      remainingVolume: v.volume ?? 0,
      executedVolume: 0,
      executedFunds: 0,
      reservedFee: reserved,
      remainingFee: reserved,
      paidFee: 0,
      locked,
      preventedVolume: 0,
      preventedLocked: 0,
      tradesCount: 0,
      trades: [],
      updatedAt: now,
    };
  }

  /** Places a validated order: locks funds, matches, rests or finishes. Returns the order as created (state wait) — later changes mutate it. */
  place(acc: Account, v: ValidOrder): { order: Order; snapshot: Order } {
    const order = this.#newOrder(acc, v);
    const m = v.market;
    const now = order.createdAt;
    const cur = order.side === "bid" ? m.quote : m.base;
    const b = this.balance(acc, cur);
    b.balance = round(b.balance - order.locked);
    b.locked = round(b.locked + order.locked);
    this.orders.set(order.uuid, order);
    acc.orders.push(order);
    if (order.identifier !== null) acc.byIdentifier.set(order.identifier, order);
    const snapshot = { ...order, trades: [] };
    this.listener?.myOrder(order, null);
    this.listener?.myAsset(acc.key.accessKey, [cur]);
    const oppositeBest = () =>
      order.side === "bid" ? m.book(1).asks[0]?.[0] : m.book(1).bids[0]?.[0];
    if (order.ordType === "limit") {
      const best = oppositeBest();
      const crosses =
        best !== undefined && (order.side === "bid" ? best <= order.price! : best >= order.price!);
      if (order.timeInForce === "post_only" && crosses) {
        this.#finish(order, "cancel", now);
        return { order, snapshot };
      }
      if (
        order.timeInForce === "fok" &&
        this.#available(m, order.side, order.price, null) < order.volume!
      ) {
        this.#finish(order, "cancel", now);
        return { order, snapshot };
      }
      if (crosses) this.#take(m, order, order.side, order.price, order.remainingVolume, null, now);
      if (order.remainingVolume <= 0) this.#finish(order, "done", now);
      else if (order.timeInForce === "ioc" || order.timeInForce === "fok")
        this.#finish(order, "cancel", now);
      else if (order.state === "wait") this.#rest(m, order);
    } else if (order.ordType === "price") {
      this.#take(m, order, "bid", null, null, order.price, now);
      this.#finish(order, order.executedFunds >= order.price! - 1e-9 ? "done" : "cancel", now);
    } else if (order.ordType === "market") {
      this.#take(m, order, "ask", null, order.volume, null, now);
      this.#finish(order, order.remainingVolume <= 0 ? "done" : "cancel", now);
    } else {
      // best: a limit at the best opposite price, ioc or fok.
      const best = oppositeBest();
      if (best === undefined) this.#finish(order, "cancel", now);
      else if (order.side === "bid") {
        const want = floor8(order.price! / best);
        if (order.timeInForce === "fok" && this.#available(m, "bid", best, null) < want)
          this.#finish(order, "cancel", now);
        else {
          this.#take(m, order, "bid", best, null, order.price, now);
          this.#finish(
            order,
            order.executedFunds >= order.price! - best * 1e-8 ? "done" : "cancel",
            now,
          );
        }
      } else if (
        order.timeInForce === "fok" &&
        this.#available(m, "ask", best, null) < order.volume!
      )
        this.#finish(order, "cancel", now);
      else {
        this.#take(m, order, "ask", best, order.volume, null, now);
        this.#finish(order, order.remainingVolume <= 0 ? "done" : "cancel", now);
      }
    }
    this.listener?.orderbook(m);
    return { order, snapshot };
  }

  #available(m: Market, side: "bid" | "ask", limit: number | null, _funds: null): number {
    const book = m.book(10_000);
    const levels = side === "bid" ? book.asks : book.bids;
    let sum = 0;
    for (const [p, v] of levels) {
      if (limit !== null && (side === "bid" ? p > limit : p < limit)) break;
      sum += v;
    }
    return round(sum);
  }

  #rest(m: Market, order: Order): void {
    const levels = order.side === "bid" ? m.userBids : m.userAsks;
    const price = order.price!;
    const asc = order.side === "ask";
    let lo = 0;
    let hi = levels.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      const p = levels[mid]!.price;
      if (asc ? p < price : p > price) lo = mid + 1;
      else hi = mid;
    }
    const at = levels[lo];
    if (at !== undefined && at.price === price) {
      at.orders.push(order);
      at.size = round(at.size + order.remainingVolume);
    } else levels.splice(lo, 0, { price, orders: [order], size: order.remainingVolume });
  }

  /** Cancels a resting order; returns the snapshot taken before the cancel. */
  cancel(order: Order): Order | ApiError {
    if (order.state !== "wait" && order.state !== "watch")
      return apiError(400, "canceled_order", "이미 취소되었거나 체결된 주문입니다.");
    const snapshot = { ...order, trades: [...order.trades] };
    const m = this.markets.get(order.market)!;
    const levels = order.side === "bid" ? m.userBids : m.userAsks;
    const level = levels.find((l) => l.price === order.price);
    if (level !== undefined) {
      const i = level.orders.indexOf(order);
      if (i >= 0) {
        level.orders.splice(i, 1);
        level.size = round(level.size - order.remainingVolume);
        if (level.orders.length === 0) removeLevel(levels, level);
      }
    }
    this.#finish(order, "cancel", this.#now());
    this.listener?.orderbook(m);
    return snapshot;
  }

  findOrder(
    acc: Account,
    uuid: string | undefined,
    identifier: string | undefined,
  ): Order | undefined {
    if (uuid !== undefined) {
      const o = this.orders.get(uuid);
      return o !== undefined && o.accessKey === acc.key.accessKey ? o : undefined;
    }
    if (identifier !== undefined) return acc.byIdentifier.get(identifier);
    return undefined;
  }

  now(): number {
    return this.#now();
  }
}

function firstLive<T extends { size: number }>(levels: T[]): T | undefined {
  for (const l of levels) if (l.size > 0) return l;
  return undefined;
}

function removeLevel(levels: UserLevel[], level: UserLevel): void {
  const i = levels.indexOf(level);
  if (i >= 0) levels.splice(i, 1);
}
