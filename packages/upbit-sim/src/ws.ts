/**
 * Public and private WebSocket endpoints. Each market event is serialized at
 * most once per format (and depth) and the same Buffer is sent to every
 * subscriber as a binary frame.
 */
import { randomUUID } from "node:crypto";
import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import { WebSocket, WebSocketServer } from "ws";
import { type KeyRecord, type NonceStore, verifyJwt } from "./auth.ts";
import type { Exchange } from "./exchange.ts";
import type { Market, Order } from "./market.ts";
import type { RateLimiter } from "./ratelimit.ts";
import type { SimFaults, SimFill, SimTrade } from "./types.ts";
import { candleStart, candles } from "./views.ts";
import {
  type CandleState,
  candleMsg,
  FORMATS,
  type Format,
  frame,
  myAssetMsg,
  myOrderMsg,
  orderbookMsg,
  type Pair,
  tickerMsg,
  tradeMsg,
} from "./wsformat.ts";

const CANDLE_UNITS: ReadonlyMap<string, readonly [string, number]> = new Map([
  ["candle.1s", ["seconds", 1]],
  ...[1, 3, 5, 10, 15, 30, 60, 240].map(
    (n) => [`candle.${n}m`, ["minutes", n]] as [string, [string, number]],
  ),
]);
const PUBLIC_TYPES = new Set(["ticker", "trade", "orderbook", ...CANDLE_UNITS.keys()]);
const PRIVATE_TYPES = new Set(["myOrder", "myAsset"]);
const DEPTHS = new Set([1, 5, 15, 30]);

interface Sub {
  readonly type: string;
  readonly codes: readonly string[];
  readonly level?: number;
}

interface Conn {
  readonly ws: WebSocket;
  readonly ip: string;
  readonly key: KeyRecord | null;
  format: Format;
  ticket: string;
  subs: Sub[];
  /** Orderbook depth per market code. */
  depth: Map<string, number>;
  lastActivity: number;
  secStart: number;
  secCount: number;
  minStart: number;
  minCount: number;
  held: Buffer | null;
  /** The raw socket under `ws`, for pre-framed writes (null: fall back to ws.send). */
  readonly socket: Duplex | null;
  corked: boolean;
}

/** Lazily serialized frames of one event, per format (and depth for order books). */
class FrameCache {
  readonly #make: (format: Format) => Buffer;
  readonly #frames = new Map<Format, Buffer>();

  constructor(make: (format: Format) => Buffer) {
    this.#make = make;
  }

  get(format: Format): Buffer {
    let f = this.#frames.get(format);
    if (f === undefined) {
      f = this.#make(format);
      this.#frames.set(format, f);
    }
    return f;
  }
}

export interface WsHubOptions {
  readonly ex: Exchange;
  readonly limiter: RateLimiter;
  readonly lookup: (accessKey: string) => KeyRecord | undefined;
  readonly nonces: NonceStore;
  readonly now: () => number;
  readonly idleMs: number;
  readonly faults: () => SimFaults;
  readonly limitsOn: boolean;
}

export class WsHub {
  readonly #o: WsHubOptions;
  readonly #wss = new WebSocketServer({
    noServer: true,
    perMessageDeflate: false,
    maxPayload: 64 * 1024,
  });
  readonly #conns = new Set<Conn>();
  /** type → market → subscribers */
  readonly #index = new Map<string, Map<string, Set<Conn>>>();
  /** accessKey → private connections */
  readonly #private = new Map<string, Set<Conn>>();
  readonly #sweep: NodeJS.Timeout;
  messagesSent = 0;

  constructor(o: WsHubOptions) {
    this.#o = o;
    this.#sweep = setInterval(
      () => this.#closeIdle(),
      // At least once a second against the (injectable) clock.
      Math.max(20, Math.min(o.idleMs / 4, 1000)),
    );
    this.#sweep.unref();
  }

  get connections(): number {
    return this.#conns.size;
  }

  bufferedBytes(): number {
    let n = 0;
    for (const c of this.#conns) n += c.ws.bufferedAmount;
    return n;
  }

  /** Handles an HTTP upgrade for `/websocket/v1` or `/websocket/v1/private`. */
  upgrade(
    req: IncomingMessage,
    socket: Duplex,
    head: Buffer,
    isPrivate: boolean,
    ip: string,
  ): void {
    const now = this.#o.now();
    let key: KeyRecord | null = null;
    let authError = false;
    if (isPrivate) {
      const r = verifyJwt(
        { authorization: req.headers.authorization, clientIp: ip, canonical: "", scope: null, now },
        this.#o.lookup,
        this.#o.nonces,
      );
      if (r.ok) key = r.key;
      else authError = true;
    }
    if (this.#o.limitsOn) {
      const client = key !== null ? `pocket:${key.accessKey}` : `ip:${ip}`;
      const d = this.#o.limiter.take(client, "websocket-connect", now);
      if (d.kind !== "ok") {
        const status = d.kind === "banned" ? "418 I'm a teapot" : "429 Too Many Requests";
        socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
        return;
      }
    }
    this.#wss.handleUpgrade(req, socket, head, (ws) => {
      const conn: Conn = {
        ws,
        ip,
        key,
        format: "DEFAULT",
        ticket: "",
        subs: [],
        depth: new Map(),
        lastActivity: this.#o.now(),
        secStart: 0,
        secCount: 0,
        minStart: 0,
        minCount: 0,
        held: null,
        // ws keeps its socket in a private field; pre-framed writes go straight to it.
        socket: (ws as unknown as { _socket?: Duplex })._socket ?? null,
        corked: false,
      };
      this.#conns.add(conn);
      ws.on("message", (data, isBinary) => this.#onMessage(conn, data as Buffer, isBinary));
      ws.on("ping", () => {
        conn.lastActivity = this.#o.now();
      });
      ws.on("close", () => this.#drop(conn));
      ws.on("error", () => this.#drop(conn));
      if (authError) {
        this.#error(conn, "INVALID_AUTH", "인증 정보가 올바르지 않습니다.");
        ws.close(4001, "INVALID_AUTH");
        return;
      }
      if (key !== null) {
        let set = this.#private.get(key.accessKey);
        if (set === undefined) {
          set = new Set();
          this.#private.set(key.accessKey, set);
        }
        set.add(conn);
      }
    });
  }

  #drop(conn: Conn): void {
    if (!this.#conns.delete(conn)) return;
    this.#unindex(conn);
    if (conn.key !== null) this.#private.get(conn.key.accessKey)?.delete(conn);
  }

  #unindex(conn: Conn): void {
    for (const s of conn.subs)
      for (const code of s.codes) this.#index.get(s.type)?.get(code)?.delete(conn);
  }

  #closeIdle(): void {
    const now = this.#o.now();
    for (const c of this.#conns)
      if (now - c.lastActivity >= this.#o.idleMs) {
        c.ws.close(1000, "idle");
        this.#drop(c);
      }
  }

  #send(conn: Conn, frame: Buffer): void {
    const f = this.#o.faults();
    if (f.wsStall === true) return;
    conn.lastActivity = this.#o.now();
    if (f.wsReorder === true) {
      if (conn.held === null) {
        conn.held = frame;
        return;
      }
      const held = conn.held;
      conn.held = null;
      this.#write(conn, frame, f.wsDuplicate === true);
      this.#write(conn, held, f.wsDuplicate === true);
      return;
    }
    this.#write(conn, frame, f.wsDuplicate === true);
  }

  /** Writes a pre-built frame; writes of one event-loop turn are corked into one writev per socket. */
  #write(conn: Conn, frame: Buffer, twice: boolean): void {
    if (conn.ws.readyState !== WebSocket.OPEN) return;
    const sock = conn.socket;
    if (sock === null) {
      const payload = frame.subarray(frame[1] === 126 ? 4 : frame[1] === 127 ? 10 : 2);
      conn.ws.send(payload, { binary: true });
      if (twice) conn.ws.send(payload, { binary: true });
    } else {
      if (!conn.corked) {
        conn.corked = true;
        sock.cork();
        this.#corked.push(conn);
        if (this.#corked.length === 1) process.nextTick(this.#uncork);
      }
      sock.write(frame);
      if (twice) sock.write(frame);
    }
    this.messagesSent += twice ? 2 : 1;
  }

  readonly #corked: Conn[] = [];
  readonly #uncork = () => {
    for (const c of this.#corked) {
      c.corked = false;
      c.socket?.uncork();
    }
    this.#corked.length = 0;
  };

  #error(conn: Conn, name: string, message: string): void {
    conn.ws.send(Buffer.from(JSON.stringify({ error: { name, message } })), { binary: true });
  }

  #onMessage(conn: Conn, data: Buffer, _isBinary: boolean): void {
    const now = this.#o.now();
    conn.lastActivity = now;
    const text = data.toString("utf8");
    if (text === "PING") {
      conn.ws.send(Buffer.from('{"status":"UP"}'), { binary: true });
      return;
    }
    if (this.#o.limitsOn && !this.#allowMessage(conn, now)) {
      this.#error(conn, "Too Many Requests", "요청 수 제한을 초과했습니다.");
      return;
    }
    let req: unknown;
    try {
      req = JSON.parse(text);
    } catch {
      this.#error(conn, "WRONG_FORMAT", "요청 형식이 올바르지 않습니다.");
      return;
    }
    if (!Array.isArray(req) || req.length === 0) {
      this.#error(conn, "WRONG_FORMAT", "요청 형식이 올바르지 않습니다.");
      return;
    }
    const first = req[0] as Record<string, unknown> | null;
    if (
      first === null ||
      typeof first !== "object" ||
      typeof first.ticket !== "string" ||
      first.ticket === ""
    ) {
      this.#error(conn, "NO_TICKET", "ticket 이 없습니다.");
      return;
    }
    let format: Format | null = null;
    let listOnly = false;
    const subs: Sub[] = [];
    const flags: { snap: boolean; real: boolean }[] = [];
    for (const item of req.slice(1) as Record<string, unknown>[]) {
      if (item === null || typeof item !== "object") {
        this.#error(conn, "WRONG_FORMAT", "요청 형식이 올바르지 않습니다.");
        return;
      }
      if (item.format !== undefined) {
        if (!FORMATS.includes(item.format as Format)) {
          this.#error(conn, "INVALID_PARAM", `지원하지 않는 format: ${String(item.format)}`);
          return;
        }
        format = item.format as Format;
        continue;
      }
      if (item.method === "LIST_SUBSCRIPTIONS") {
        listOnly = true;
        continue;
      }
      if (typeof item.type !== "string") {
        this.#error(conn, "NO_TYPE", "type 이 없습니다.");
        return;
      }
      const type = item.type;
      const isPrivateType = PRIVATE_TYPES.has(type);
      if (!PUBLIC_TYPES.has(type) && !isPrivateType) {
        this.#error(conn, "INVALID_PARAM", `지원하지 않는 type: ${type}`);
        return;
      }
      if (isPrivateType !== (conn.key !== null)) {
        this.#error(
          conn,
          isPrivateType ? "INVALID_AUTH" : "INVALID_PARAM",
          "이 엔드포인트에서 지원하지 않는 type 입니다.",
        );
        return;
      }
      if (type === "myAsset" && item.codes !== undefined) {
        this.#error(conn, "WRONG_FORMAT", "myAsset 은 codes 를 받지 않습니다.");
        return;
      }
      if (isPrivateType) {
        const need = type === "myAsset" ? "view_accounts" : "view_orders";
        if (!conn.key!.scopes.has(need)) {
          this.#error(conn, "INVALID_AUTH", "권한이 부족합니다.");
          return;
        }
      }
      const codesRaw = item.codes;
      if (!isPrivateType && (!Array.isArray(codesRaw) || codesRaw.length === 0)) {
        this.#error(conn, "NO_CODES", "codes 가 없습니다.");
        return;
      }
      const codes: string[] = [];
      for (const c of (codesRaw ?? []) as unknown[]) {
        if (typeof c !== "string") {
          this.#error(conn, "INVALID_PARAM", "codes 형식이 올바르지 않습니다.");
          return;
        }
        let code = c;
        if (type === "orderbook") {
          const dot = c.lastIndexOf(".");
          let depth = 30;
          if (dot > 0) {
            code = c.slice(0, dot);
            const d = Number(c.slice(dot + 1));
            depth = DEPTHS.has(d) ? d : 30;
          }
          conn.depth.set(code, depth);
        }
        if (!isPrivateType && !this.#o.ex.markets.has(code)) {
          this.#error(conn, "INVALID_PARAM", `존재하지 않는 code: ${code}`);
          return;
        }
        codes.push(code);
      }
      const sub: Sub =
        item.level !== undefined ? { type, codes, level: Number(item.level) } : { type, codes };
      subs.push(sub);
      flags.push({
        snap: item.is_only_realtime !== true && item.isOnlyRealtime !== true,
        real: item.is_only_snapshot !== true && item.isOnlySnapshot !== true,
      });
    }
    conn.ticket = first.ticket;
    if (format !== null) conn.format = format;
    if (listOnly && subs.length === 0) {
      this.#listSubscriptions(conn);
      return;
    }
    if (subs.length === 0) {
      this.#error(conn, "NO_TYPE", "type 이 없습니다.");
      return;
    }
    this.#unindex(conn);
    conn.subs = [];
    for (let i = 0; i < subs.length; i++) {
      const sub = subs[i]!;
      const f = flags[i]!;
      if (f.snap && !PRIVATE_TYPES.has(sub.type)) this.#snapshot(conn, sub, now);
      if (!f.real) continue;
      conn.subs.push(sub);
      if (PRIVATE_TYPES.has(sub.type)) continue;
      if (CANDLE_UNITS.has(sub.type)) this.#candleSubs = true;
      let byMarket = this.#index.get(sub.type);
      if (byMarket === undefined) {
        byMarket = new Map();
        this.#index.set(sub.type, byMarket);
      }
      for (const code of sub.codes) {
        let set = byMarket.get(code);
        if (set === undefined) {
          set = new Set();
          byMarket.set(code, set);
        }
        set.add(conn);
      }
    }
    if (listOnly) this.#listSubscriptions(conn);
  }

  #allowMessage(conn: Conn, now: number): boolean {
    if (now - conn.secStart >= 1000) {
      conn.secStart = now;
      conn.secCount = 0;
    }
    if (now - conn.minStart >= 60_000) {
      conn.minStart = now;
      conn.minCount = 0;
    }
    if (conn.secCount >= 5 || conn.minCount >= 100) return false;
    conn.secCount++;
    conn.minCount++;
    return true;
  }

  #listSubscriptions(conn: Conn): void {
    const simple = conn.format === "SIMPLE" || conn.format === "SIMPLE_LIST";
    const result = conn.subs.map((s) => {
      const codes =
        s.type === "orderbook" ? s.codes.map((c) => `${c}.${conn.depth.get(c) ?? 30}`) : s.codes;
      const r: Record<string, unknown> = simple
        ? { ty: s.type, cds: codes }
        : { type: s.type, codes };
      if (s.level !== undefined) r[simple ? "lv" : "level"] = s.level;
      return r;
    });
    const body = simple
      ? { mthd: "LIST_SUBSCRIPTIONS", rslt: result, tckt: conn.ticket }
      : { method: "LIST_SUBSCRIPTIONS", result, ticket: conn.ticket };
    conn.ws.send(Buffer.from(JSON.stringify(body)), { binary: true });
  }

  #snapshot(conn: Conn, sub: Sub, now: number): void {
    for (const code of sub.codes) {
      const m = this.#o.ex.markets.get(code)!;
      let pair: Pair | null = null;
      if (sub.type === "ticker") pair = tickerMsg(m, "SNAPSHOT", now);
      else if (sub.type === "trade") {
        const t = m.trades[m.trades.length - 1];
        if (t !== undefined) pair = tradeMsg(m, t, "SNAPSHOT");
      } else if (sub.type === "orderbook")
        pair = orderbookMsg(m, conn.depth.get(code) ?? 30, "SNAPSHOT", now);
      else {
        const k = this.#candle(sub.type, m);
        if (k !== null) pair = candleMsg(sub.type, code, { ...k.state }, "SNAPSHOT");
      }
      if (pair !== null) this.#send(conn, frame(pair, conn.format));
    }
  }

  // ---------------------------------------------------------------- events from the exchange

  onTrade(m: Market, t: SimTrade): void {
    const byMarket = this.#index;
    if (this.#candleSubs) this.#candleTrade(m, t);
    const trades = byMarket.get("trade")?.get(m.code);
    if (trades !== undefined && trades.size > 0) {
      const cache = new FrameCache((f) => frame(tradeMsg(m, t, "REALTIME"), f));
      for (const c of trades) this.#send(c, cache.get(c.format));
    }
    const tickers = byMarket.get("ticker")?.get(m.code);
    if (tickers !== undefined && tickers.size > 0) {
      const now = this.#o.now();
      const pair = tickerMsg(m, "REALTIME", now);
      const cache = new FrameCache((f) => frame(pair, f));
      for (const c of tickers) this.#send(c, cache.get(c.format));
    }
  }

  /** Live candle per (type, market) while someone subscribes; seeded from the trade log. */
  readonly #candles = new Map<string, { state: CandleState; dirty: boolean; pushedAt: number }>();
  #candleSubs = false;

  #candle(
    type: string,
    m: Market,
  ): { state: CandleState; dirty: boolean; pushedAt: number } | null {
    const key = `${type}|${m.code}`;
    let c = this.#candles.get(key);
    if (c === undefined) {
      const [kind, unit] = CANDLE_UNITS.get(type)!;
      const last = candles(m, kind, unit, 1, Number.POSITIVE_INFINITY)[0];
      if (last === undefined) return null;
      const start = Date.parse(`${String(last.candle_date_time_utc)}Z`);
      c = {
        state: {
          start,
          o: last.opening_price as number,
          h: last.high_price as number,
          l: last.low_price as number,
          c: last.trade_price as number,
          v: last.candle_acc_trade_volume as number,
          q: last.candle_acc_trade_price as number,
          ts: last.timestamp as number,
        },
        dirty: false,
        pushedAt: 0,
      };
      this.#candles.set(key, c);
    }
    return c;
  }

  #candleTrade(m: Market, t: SimTrade): void {
    for (const [type, [kind, unit]] of CANDLE_UNITS) {
      const subs = this.#index.get(type)?.get(m.code);
      if (subs === undefined || subs.size === 0) continue;
      const start = candleStart(kind, unit, t.timestamp);
      const c = this.#candle(type, m) ?? {
        state: {
          start,
          o: t.price,
          h: t.price,
          l: t.price,
          c: t.price,
          v: 0,
          q: 0,
          ts: t.timestamp,
        },
        dirty: false,
        pushedAt: 0,
      };
      this.#candles.set(`${type}|${m.code}`, c);
      const k = c.state;
      if (start !== k.start) {
        c.state = {
          start,
          o: t.price,
          h: t.price,
          l: t.price,
          c: t.price,
          v: t.volume,
          q: t.price * t.volume,
          ts: t.timestamp,
        };
      } else {
        if (t.price > k.h) k.h = t.price;
        if (t.price < k.l) k.l = t.price;
        k.c = t.price;
        k.v += t.volume;
        k.q += t.price * t.volume;
        k.ts = t.timestamp;
      }
      c.dirty = true;
    }
  }

  /** Candles go out at most once a second per (type, market), only when a trade changed them. */
  #flushCandles(m: Market): void {
    if (this.#candles.size === 0) return;
    const now = this.#o.now();
    for (const type of CANDLE_UNITS.keys()) {
      const c = this.#candles.get(`${type}|${m.code}`);
      if (c === undefined || !c.dirty || (c.pushedAt !== 0 && now - c.pushedAt < 1000)) continue;
      const subs = this.#index.get(type)?.get(m.code);
      if (subs === undefined || subs.size === 0) continue;
      c.dirty = false;
      c.pushedAt = now;
      const pair = candleMsg(type, m.code, { ...c.state }, "REALTIME");
      const cache = new FrameCache((f) => frame(pair, f));
      for (const conn of subs) this.#send(conn, cache.get(conn.format));
    }
  }

  onOrderbook(m: Market): void {
    this.#flushCandles(m);
    const subs = this.#index.get("orderbook")?.get(m.code);
    if (subs === undefined || subs.size === 0) return;
    const now = this.#o.now();
    const pairs = new Map<number, Pair>();
    const frames = new Map<string, Buffer>();
    for (const c of subs) {
      const depth = c.depth.get(m.code) ?? 30;
      const k = `${depth}/${c.format}`;
      let buf = frames.get(k);
      if (buf === undefined) {
        let pair = pairs.get(depth);
        if (pair === undefined) {
          pair = orderbookMsg(m, depth, "REALTIME", now);
          pairs.set(depth, pair);
        }
        buf = frame(pair, c.format);
        frames.set(k, buf);
      }
      this.#send(c, buf);
    }
  }

  onMyOrder(order: Order, fill: SimFill | null): void {
    const conns = this.#private.get(order.accessKey);
    if (conns === undefined || conns.size === 0) return;
    const cache = new FrameCache((f) => frame(myOrderMsg(order, fill, this.#o.now()), f));
    for (const c of conns)
      for (const s of c.subs)
        if (s.type === "myOrder" && (s.codes.length === 0 || s.codes.includes(order.market))) {
          this.#send(c, cache.get(c.format));
          break;
        }
  }

  onMyAsset(accessKey: string, currencies: readonly string[]): void {
    const conns = this.#private.get(accessKey);
    if (conns === undefined || conns.size === 0) return;
    const acc = this.#o.ex.accounts.get(accessKey);
    if (acc === undefined) return;
    const assets = currencies.map((cu) => {
      const b = this.#o.ex.balance(acc, cu);
      return { currency: cu, balance: b.balance, locked: b.locked };
    });
    const cache = new FrameCache((f) => frame(myAssetMsg(randomUUID(), assets, this.#o.now()), f));
    for (const c of conns)
      if (c.subs.some((s) => s.type === "myAsset")) this.#send(c, cache.get(c.format));
  }

  /** Fault: closes every connection without a close handshake. */
  disconnectAll(): void {
    for (const c of [...this.#conns]) {
      c.ws.terminate();
      this.#drop(c);
    }
  }

  close(): void {
    clearInterval(this.#sweep);
    this.disconnectAll();
    this.#wss.close();
  }
}
