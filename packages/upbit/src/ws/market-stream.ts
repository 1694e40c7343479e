/**
 * The domain client of Upbit's public WebSocket: "stream these markets' trades,
 * tickers and order books to me". It splits the markets over as many sockets
 * as Upbit's request limits need (each request replaces a connection's
 * subscription set, so one request per connection), parses every frame, and
 * reports connection changes per shard.
 */
import type { MarketEvent, UplineError } from "@upline/shared";
import { fastTrade } from "./fast-trade.ts";
import { parseFrame } from "./parse.ts";
import {
  createUpbitSocket,
  type SocketEvent,
  type UpbitSocket,
  type UpbitSocketOptions,
} from "./socket.ts";

export const WsFormat = {
  Default: "DEFAULT",
  Simple: "SIMPLE",
  JsonList: "JSON_LIST",
  SimpleList: "SIMPLE_LIST",
} as const;
export type WsFormat = (typeof WsFormat)[keyof typeof WsFormat];

export type MarketChannel = "ticker" | "trade" | "orderbook";

export interface SubscriptionPlan {
  /** Markets per connection. */
  readonly shards: readonly (readonly string[])[];
  /** The one request message per connection, in shard order. */
  readonly messages: readonly string[];
}

export interface PlanOptions {
  readonly channels: readonly MarketChannel[];
  readonly format?: WsFormat;
  /** Orderbook depth suffix (1, 5, 15 or 30); none: Upbit's default (30). */
  readonly orderbookDepth?: number;
  /** Most market codes per connection (default 100; Upbit's maximum is unconfirmed). */
  readonly maxCodesPerConnection?: number;
  /** Most bytes per request message (default 16 KiB). */
  readonly maxMessageBytes?: number;
  /** Ticket factory (default: random UUID). */
  readonly ticket?: () => string;
}

/** One subscription request: `[{ticket}, {type, codes}…, {format}]`. */
export function subscriptionMessage(
  markets: readonly string[],
  options: PlanOptions,
  ticket: string,
): string {
  const body: unknown[] = [{ ticket }];
  for (const type of options.channels) {
    const codes =
      type === "orderbook" && options.orderbookDepth !== undefined
        ? markets.map((m) => `${m}.${options.orderbookDepth}`)
        : [...markets];
    body.push({ type, codes });
  }
  body.push({ format: options.format ?? WsFormat.Simple });
  return JSON.stringify(body);
}

/** Splits markets into connections so that each request stays within the limits. */
export function planSubscriptions(
  markets: readonly string[],
  options: PlanOptions,
): SubscriptionPlan {
  if (options.channels.length === 0) throw new RangeError("subscribe to at least one channel");
  const maxCodes = options.maxCodesPerConnection ?? 100;
  const maxBytes = options.maxMessageBytes ?? 16 * 1024;
  const ticket = options.ticket ?? (() => crypto.randomUUID());
  const unique = [...new Set(markets)];
  const shards: string[][] = [];
  let current: string[] = [];
  for (const m of unique) {
    const next = [...current, m];
    const tooMany = next.length > maxCodes;
    const tooBig =
      Buffer.byteLength(
        subscriptionMessage(next, options, "00000000-0000-0000-0000-000000000000"),
      ) > maxBytes;
    if ((tooMany || tooBig) && current.length > 0) {
      shards.push(current);
      current = [m];
    } else current = next;
  }
  if (current.length > 0) shards.push(current);
  return { shards, messages: shards.map((s) => subscriptionMessage(s, options, ticket())) };
}

export interface MarketStreamOptions extends PlanOptions {
  readonly url: string;
  readonly markets: readonly string[];
  /** Every parsed event, synchronously, in arrival order. */
  readonly onEvent: (event: MarketEvent) => void;
  /** A frame (or an object in a LIST frame) that could not be parsed. */
  readonly onInvalid?: (error: UplineError) => void;
  /** An error message from Upbit (WRONG_FORMAT, Too Many Requests, …). */
  readonly onUpbitError?: (error: UplineError) => void;
  readonly onConnection?: (shard: number, markets: readonly string[], event: SocketEvent) => void;
  /** Socket settings shared by every shard (stall, ping, backoff, timers, connect limiter). */
  readonly socket?: Omit<UpbitSocketOptions, "url" | "onFrame" | "onEvent" | "subscribe">;
  /** Clock for `received_ts` (default Date.now). */
  readonly now?: () => number;
}

export interface MarketStreamStats {
  readonly frames: number;
  readonly events: number;
  readonly invalid: number;
  readonly upbitErrors: number;
  readonly connects: number;
  readonly stalls: number;
}

export interface MarketStream {
  readonly shards: readonly (readonly string[])[];
  readonly start: () => void;
  /** Drops every connection and reconnects (each shard re-subscribes and re-snapshots). */
  readonly reconnect: () => void;
  /** Stops reading every connection (backpressure) until `resume`; see UpbitSocket.pause. */
  readonly pause: () => void;
  readonly resume: () => void;
  readonly stats: () => MarketStreamStats;
  readonly close: () => Promise<void>;
}

export function openMarketStream(options: MarketStreamOptions): MarketStream {
  const now = options.now ?? Date.now;
  const plan = planSubscriptions(options.markets, options);
  let frames = 0;
  let events = 0;
  let invalid = 0;
  let upbitErrors = 0;
  const onFrame = (data: Buffer) => {
    frames++;
    const receivedTs = now();
    // The common frame — one SIMPLE/DEFAULT trade — without JSON.parse or zod;
    // anything the fast path is not sure about goes through parseFrame.
    const trade = fastTrade(data, receivedTs);
    if (trade !== undefined) {
      events++;
      options.onEvent(trade);
      return;
    }
    const f = parseFrame(data, receivedTs);
    switch (f.kind) {
      case "events":
        for (const e of f.events) {
          events++;
          options.onEvent(e);
        }
        for (const err of f.invalid) {
          invalid++;
          options.onInvalid?.(err);
        }
        return;
      case "invalid":
        invalid++;
        options.onInvalid?.(f.error);
        return;
      case "error":
        upbitErrors++;
        options.onUpbitError?.(f.error);
        return;
      default:
        return;
    }
  };
  const sockets: UpbitSocket[] = plan.shards.map((markets, i) => {
    const ticket = options.ticket ?? (() => crypto.randomUUID());
    return createUpbitSocket({
      ...options.socket,
      url: options.url,
      // A fresh ticket per (re)subscription.
      subscribe: () => [subscriptionMessage(markets, options, ticket())],
      onFrame,
      onEvent: (event) => options.onConnection?.(i, markets, event),
    });
  });
  return {
    shards: plan.shards,
    start: () => {
      for (const s of sockets) s.start();
    },
    reconnect: () => {
      for (const s of sockets) s.reconnect();
    },
    pause: () => {
      for (const s of sockets) s.pause();
    },
    resume: () => {
      for (const s of sockets) s.resume();
    },
    stats: () => {
      let connects = 0;
      let stalls = 0;
      for (const s of sockets) {
        const st = s.stats();
        connects += st.connects;
        stalls += st.stalls;
      }
      return { frames, events, invalid, upbitErrors, connects, stalls };
    },
    close: async () => {
      await Promise.all(sockets.map((s) => s.close()));
    },
  };
}
