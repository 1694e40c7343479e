/**
 * Pure parsers for Upbit's public WebSocket frames (fact sheet §5.3): DEFAULT
 * and SIMPLE key styles, single objects and the `*_LIST` arrays, binary or
 * text frames. Market data becomes the bus's normalized, schema-checked types
 * (`Ticker`, `Trade`, `Orderbook` of @upline/shared): decimal strings (see
 * decimal.ts), `exchange_ts` from the exchange and `received_ts` from the
 * caller. Status (`{"status":"UP"}`), error and LIST_SUBSCRIPTIONS frames are
 * recognized; anything else is reported as invalid, never thrown.
 */
import { type MarketEvent, Orderbook, Ticker, Trade, UplineError } from "@upline/shared";
import type { z } from "zod";
import { decimalString } from "./decimal.ts";

type Json = Record<string, unknown>;
type OrderbookUnit = Orderbook["units"][number];

/** What one WebSocket frame carried. */
export type WsFrame =
  | {
      readonly kind: "events";
      /** Parsed market events in frame order (a LIST frame can carry several). */
      readonly events: readonly MarketEvent[];
      /** Objects of the frame that could not be parsed (LIST frames may mix). */
      readonly invalid: readonly UplineError[];
      /** Objects of data types this parser does not normalize (candles, …). */
      readonly ignored: number;
    }
  | { readonly kind: "status"; readonly status: string }
  | {
      readonly kind: "error";
      /** Upbit's error name: WRONG_FORMAT, NO_CODES, Too Many Requests, … */
      readonly name: string;
      readonly message: string;
      readonly error: UplineError;
    }
  | {
      readonly kind: "subscriptions";
      readonly result: readonly { readonly type: string; readonly codes: readonly string[] }[];
    }
  | { readonly kind: "invalid"; readonly error: UplineError };

const textDecoder = new TextDecoder();

/** The frame's text: binary frames are UTF-8 JSON (Upbit sends data as binary). */
export function frameText(data: Uint8Array | ArrayBuffer | string): string {
  if (typeof data === "string") return data;
  return textDecoder.decode(data);
}

// sequential_id is a Java Long and exceeds 2^53: quote it before JSON.parse rounds it.
const SEQ_ID = /"(sequential_id|sid)":(-?\d+)/g;

/**
 * Parses JSON text whose `sequential_id` / `sid` values are quoted first, so
 * that they reach the caller digit for digit. Throws on malformed JSON.
 */
export function parseUpbitJson(text: string): unknown {
  const quoted =
    text.includes('"sequential_id":') || text.includes('"sid":')
      ? text.replace(SEQ_ID, '"$1":"$2"')
      : text;
  return JSON.parse(quoted);
}

/** Parses one frame. Never throws: failures come back as `invalid`. */
export function parseFrame(data: Uint8Array | ArrayBuffer | string, receivedTs: number): WsFrame {
  const text = frameText(data);
  let body: unknown;
  try {
    body = parseUpbitJson(text);
  } catch (cause) {
    return {
      kind: "invalid",
      error: new UplineError("UPBIT_FRAME_INVALID", "frame is not valid JSON", {
        cause,
        details: { sample: text.slice(0, 120) },
      }),
    };
  }
  if (Array.isArray(body)) return eventsOf(body, receivedTs);
  if (body === null || typeof body !== "object") return invalid("frame is not a JSON object");
  const o = body as Json;
  if (typeof o.status === "string") return { kind: "status", status: o.status };
  if (o.error !== undefined) {
    const e = (o.error ?? {}) as Json;
    const name = String(e.name ?? "UNKNOWN");
    const message = String(e.message ?? "");
    return {
      kind: "error",
      name,
      message,
      error: new UplineError("UPBIT_WS_ERROR", `Upbit WebSocket error ${name}: ${message}`, {
        details: { upbit_error: name },
      }),
    };
  }
  const method = o.method ?? o.mthd;
  if (method === "LIST_SUBSCRIPTIONS") {
    const rows = (o.result ?? o.rslt) as Json[] | undefined;
    return {
      kind: "subscriptions",
      result: Array.isArray(rows)
        ? rows.map((r) => ({
            type: String(r.type ?? r.ty),
            codes: ((r.codes ?? r.cds ?? []) as unknown[]).map(String),
          }))
        : [],
    };
  }
  return eventsOf([o], receivedTs);
}

function invalid(message: string, details?: Record<string, unknown>): WsFrame {
  return {
    kind: "invalid",
    error: new UplineError("UPBIT_FRAME_INVALID", message, details ? { details } : {}),
  };
}

function eventsOf(items: readonly unknown[], receivedTs: number): WsFrame {
  const events: MarketEvent[] = [];
  const bad: UplineError[] = [];
  let ignored = 0;
  for (const item of items) {
    const r = parseMarketObject(item, receivedTs);
    if (r === null) ignored++;
    else if (r instanceof UplineError) bad.push(r);
    else events.push(r);
  }
  if (events.length === 0 && ignored === 0 && bad.length === 1) {
    return { kind: "invalid", error: bad[0] as UplineError };
  }
  return { kind: "events", events, invalid: bad, ignored };
}

/**
 * One market-data object (DEFAULT or SIMPLE keys) → a normalized event;
 * `null` for data types this parser does not handle; an error when it is malformed.
 */
export function parseMarketObject(
  item: unknown,
  receivedTs: number,
): MarketEvent | UplineError | null {
  if (item === null || typeof item !== "object" || Array.isArray(item)) {
    return new UplineError("UPBIT_FRAME_INVALID", "market data item is not an object");
  }
  const o = item as Json;
  const simple = o.ty !== undefined;
  const type = simple ? o.ty : o.type;
  try {
    switch (type) {
      case "trade":
        return checked(Trade, simple ? tradeSimple(o, receivedTs) : tradeDefault(o, receivedTs));
      case "ticker":
        return checked(Ticker, simple ? tickerSimple(o, receivedTs) : tickerDefault(o, receivedTs));
      case "orderbook":
        return checked(Orderbook, orderbook(o, simple, receivedTs));
      default:
        if (typeof type === "string") return null;
        return new UplineError("UPBIT_FRAME_INVALID", "market data item has no type");
    }
  } catch (err) {
    return err instanceof UplineError
      ? err
      : new UplineError("UPBIT_FRAME_INVALID", `malformed ${String(type)} message`, {
          cause: err,
        });
  }
}

function checked<S extends z.ZodType>(schema: S, value: unknown): z.infer<S> | UplineError {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  const first = r.error.issues[0];
  return new UplineError(
    "UPBIT_FRAME_INVALID",
    `message does not match its type: ${first?.path.join(".") ?? "?"} ${first?.message ?? ""}`,
    { cause: r.error },
  );
}

function num(v: unknown, field: string): string {
  if (typeof v === "number") return decimalString(v);
  // Some Upbit payloads (and the REST exchange API) send decimals as strings.
  if (typeof v === "string" && v !== "" && Number.isFinite(Number(v))) return v;
  throw new UplineError("UPBIT_FRAME_INVALID", `${field} is not a number`);
}

function ms(v: unknown, field: string): number {
  if (typeof v === "number" && Number.isInteger(v) && v >= 0) return v;
  throw new UplineError("UPBIT_FRAME_INVALID", `${field} is not an epoch-ms timestamp`);
}

function seqId(v: unknown): string {
  if (typeof v === "string" && /^[0-9]+$/.test(v)) return v;
  if (typeof v === "number" && Number.isSafeInteger(v) && v >= 0) return String(v);
  throw new UplineError("UPBIT_FRAME_INVALID", "sequential_id is not a non-negative integer");
}

function side(v: unknown): "bid" | "ask" {
  if (v === "BID") return "bid";
  if (v === "ASK") return "ask";
  throw new UplineError("UPBIT_FRAME_INVALID", "ask_bid is neither ASK nor BID");
}

function tradeDefault(o: Json, receivedTs: number): Trade {
  return {
    type: "trade",
    market: String(o.code ?? o.market),
    exchange_ts: ms(o.trade_timestamp ?? o.timestamp, "trade_timestamp"),
    received_ts: receivedTs,
    price: num(o.trade_price, "trade_price"),
    volume: num(o.trade_volume, "trade_volume"),
    side: side(o.ask_bid),
    sequential_id: seqId(o.sequential_id),
  };
}

function tradeSimple(o: Json, receivedTs: number): Trade {
  return {
    type: "trade",
    market: String(o.cd),
    exchange_ts: ms(o.ttms ?? o.tms, "ttms"),
    received_ts: receivedTs,
    price: num(o.tp, "tp"),
    volume: num(o.tv, "tv"),
    side: side(o.ab),
    sequential_id: seqId(o.sid),
  };
}

function tickerDefault(o: Json, receivedTs: number): Ticker {
  return {
    type: "ticker",
    market: String(o.code ?? o.market),
    exchange_ts: ms(o.timestamp, "timestamp"),
    received_ts: receivedTs,
    opening_price: num(o.opening_price, "opening_price"),
    high_price: num(o.high_price, "high_price"),
    low_price: num(o.low_price, "low_price"),
    trade_price: num(o.trade_price, "trade_price"),
    prev_closing_price: num(o.prev_closing_price, "prev_closing_price"),
    change: o.change as Ticker["change"],
    signed_change_price: num(o.signed_change_price, "signed_change_price"),
    signed_change_rate: num(o.signed_change_rate, "signed_change_rate"),
    trade_volume: num(o.trade_volume, "trade_volume"),
    acc_trade_volume_24h: num(o.acc_trade_volume_24h, "acc_trade_volume_24h"),
    acc_trade_price_24h: num(o.acc_trade_price_24h, "acc_trade_price_24h"),
  };
}

function tickerSimple(o: Json, receivedTs: number): Ticker {
  return {
    type: "ticker",
    market: String(o.cd),
    exchange_ts: ms(o.tms, "tms"),
    received_ts: receivedTs,
    opening_price: num(o.op, "op"),
    high_price: num(o.hp, "hp"),
    low_price: num(o.lp, "lp"),
    trade_price: num(o.tp, "tp"),
    prev_closing_price: num(o.pcp, "pcp"),
    change: o.c as Ticker["change"],
    signed_change_price: num(o.scp, "scp"),
    signed_change_rate: num(o.scr, "scr"),
    trade_volume: num(o.tv, "tv"),
    acc_trade_volume_24h: num(o.atv24h, "atv24h"),
    acc_trade_price_24h: num(o.atp24h, "atp24h"),
  };
}

function orderbook(o: Json, simple: boolean, receivedTs: number): Orderbook {
  const rawUnits = simple ? o.obu : o.orderbook_units;
  if (!Array.isArray(rawUnits))
    throw new UplineError("UPBIT_FRAME_INVALID", "orderbook_units is not a list");
  const units: OrderbookUnit[] = new Array(rawUnits.length);
  for (let i = 0; i < rawUnits.length; i++) {
    const u = rawUnits[i] as Json;
    if (u === null || typeof u !== "object")
      throw new UplineError("UPBIT_FRAME_INVALID", "orderbook unit is not an object");
    units[i] = simple
      ? {
          ask_price: num(u.ap, "obu.ap"),
          bid_price: num(u.bp, "obu.bp"),
          ask_size: num(u.as, "obu.as"),
          bid_size: num(u.bs, "obu.bs"),
        }
      : {
          ask_price: num(u.ask_price, "ask_price"),
          bid_price: num(u.bid_price, "bid_price"),
          ask_size: num(u.ask_size, "ask_size"),
          bid_size: num(u.bid_size, "bid_size"),
        };
  }
  const level = simple ? o.lv : o.level;
  return {
    type: "orderbook",
    market: String(simple ? o.cd : (o.code ?? o.market)),
    exchange_ts: ms(simple ? o.tms : o.timestamp, "timestamp"),
    received_ts: receivedTs,
    total_ask_size: num(simple ? o.tas : o.total_ask_size, "total_ask_size"),
    total_bid_size: num(simple ? o.tbs : o.total_bid_size, "total_bid_size"),
    units,
    level: level === undefined || level === null ? "0" : num(level, "level"),
  };
}

/**
 * A trade from REST `GET /v1/trades/ticks` (already parsed with
 * {@link parseUpbitJson}) → the normalized type; throws UPBIT_FRAME_INVALID.
 */
export function tradeFromRest(o: unknown, receivedTs: number): Trade {
  if (o === null || typeof o !== "object")
    throw new UplineError("UPBIT_FRAME_INVALID", "trade is not an object");
  const r = checked(Trade, tradeDefault(o as Json, receivedTs));
  if (r instanceof UplineError) throw r;
  return r;
}

/** An order book from REST `GET /v1/orderbook` → the normalized type; throws UPBIT_FRAME_INVALID. */
export function orderbookFromRest(o: unknown, receivedTs: number): Orderbook {
  if (o === null || typeof o !== "object")
    throw new UplineError("UPBIT_FRAME_INVALID", "orderbook is not an object");
  const r = checked(Orderbook, orderbook(o as Json, false, receivedTs));
  if (r instanceof UplineError) throw r;
  return r;
}
