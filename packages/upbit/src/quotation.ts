/**
 * A small client for Upbit's public quotation REST API (fact sheet §2.1):
 * markets, recent trades with cursor paging, order books. undici `request()`
 * on a keep-alive pool.
 *
 * Rate limits (§3): every group (`market`, `trade`, `orderbook`, …) is metered
 * on the client side (8/s by default, under Upbit's 10/s per IP), the
 * `Remaining-Req` header's `sec=0` holds the group until the next second, a 429
 * holds the group until the next second and retries, a 418 holds every group
 * for its block time and fails. Network faults and 5xx are retried with
 * exponential backoff and full jitter (all these calls are idempotent GETs).
 */

import { type Orderbook, type Trade, UplineError } from "@upline/shared";
import { Agent, request } from "undici";
import { parseRemainingReq } from "./rest/remaining.ts";
import { orderbookFromRest, parseUpbitJson, tradeFromRest } from "./ws/parse.ts";
import {
  backoffDelay,
  createRateWindow,
  type RateWindow,
  systemTimers,
  type Timers,
} from "./ws/timing.ts";

export interface MarketInfo {
  readonly market: string;
  readonly korean_name: string;
  readonly english_name: string;
}

export interface QuotationClientOptions {
  /** Base URL without `/v1`, e.g. `https://api.upbit.com`. */
  readonly baseUrl: string;
  /** Requests per second per group this client allows itself (default 8). */
  readonly perSecond?: number;
  /** Retries after a 429, a 5xx or a network fault (default 4). */
  readonly maxRetries?: number;
  /** Per-request timeout (default 10 s). */
  readonly timeoutMs?: number;
  readonly timers?: Timers;
  readonly random?: () => number;
}

export interface TradesPage {
  readonly count?: number;
  /** A sequential_id: continue with trades below it. */
  readonly cursor?: string;
  /** 1–7: a previous UTC day; none: today. */
  readonly daysAgo?: number;
}

export interface QuotationStats {
  readonly requests: number;
  readonly rateLimited: number;
  readonly retries: number;
}

export interface QuotationClient {
  readonly markets: () => Promise<MarketInfo[]>;
  /** One page of recent trades, newest first. */
  readonly trades: (market: string, page?: TradesPage) => Promise<Trade[]>;
  /**
   * Every trade of `market` at or after `sinceTs` (epoch ms), newest first,
   * paging with the cursor (and into previous UTC days when needed), at most
   * `maxPages` requests.
   */
  readonly tradesSince: (
    market: string,
    sinceTs: number,
    options?: { readonly maxPages?: number },
  ) => Promise<{ readonly trades: Trade[]; readonly complete: boolean }>;
  readonly orderbooks: (markets: readonly string[], count?: number) => Promise<Orderbook[]>;
  readonly stats: () => QuotationStats;
  /** Closes the connection pool. Safe to call twice. */
  readonly close: () => Promise<void>;
}

const PAGE = 500;
const DAY_MS = 86_400_000;

export function createQuotationClient(options: QuotationClientOptions): QuotationClient {
  const base = options.baseUrl.replace(/\/+$/, "");
  const timers = options.timers ?? systemTimers;
  const random = options.random ?? Math.random;
  const maxRetries = options.maxRetries ?? 4;
  const timeoutMs = options.timeoutMs ?? 10_000;
  const agent = new Agent({ keepAliveTimeout: 10_000, connections: 8 });
  const windows = new Map<string, RateWindow>();
  const heldUntil = new Map<string, number>();
  let allHeldUntil = 0;
  let requests = 0;
  let rateLimited = 0;
  let retries = 0;
  let closed: Promise<void> | undefined;

  const sleep = (ms: number) =>
    ms <= 0 ? Promise.resolve() : new Promise<void>((r) => void timers.setTimeout(r, ms));
  const nextSecond = () => {
    const t = timers.now();
    return t - (t % 1000) + 1000;
  };

  const windowOf = (group: string) => {
    let w = windows.get(group);
    if (w === undefined) {
      w = createRateWindow(options.perSecond ?? 8, 1000, timers.now);
      windows.set(group, w);
    }
    return w;
  };

  async function get(group: string, path: string, query: Record<string, string>): Promise<unknown> {
    const qs = new URLSearchParams(query).toString();
    const url = `${base}${path}${qs ? `?${qs}` : ""}`;
    for (let attempt = 0; ; attempt++) {
      if (closed) throw new UplineError("UPBIT_QUOTATION_FAILED", "the quotation client is closed");
      await sleep(Math.max(allHeldUntil, heldUntil.get(group) ?? 0) - timers.now());
      await sleep(windowOf(group).reserve());
      requests++;
      let status: number;
      let text: string;
      let headers: Record<string, string | string[] | undefined>;
      try {
        const res = await request(url, {
          method: "GET",
          dispatcher: agent,
          headers: { accept: "application/json" },
          headersTimeout: timeoutMs,
          bodyTimeout: timeoutMs,
        });
        status = res.statusCode;
        headers = res.headers;
        text = await res.body.text();
      } catch (cause) {
        if (attempt >= maxRetries)
          throw new UplineError(
            "UPBIT_QUOTATION_FAILED",
            `GET ${path}: ${(cause as Error).message}`,
            {
              cause,
            },
          );
        retries++;
        await sleep(backoffDelay(attempt, { initialMs: 200, maxMs: 5_000 }, random));
        continue;
      }
      const remaining = parseRemainingReq(headerString(headers["remaining-req"]));
      if (remaining !== undefined && remaining.sec <= 0) heldUntil.set(group, nextSecond());
      if (status === 200) {
        try {
          return parseUpbitJson(text);
        } catch (cause) {
          throw new UplineError("UPBIT_QUOTATION_FAILED", `GET ${path}: body is not JSON`, {
            cause,
          });
        }
      }
      if (status === 418) {
        rateLimited++;
        const retryAfter = Number(headerString(headers["retry-after"]));
        allHeldUntil =
          timers.now() +
          (Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter * 1000 : 2_000);
        throw new UplineError("UPBIT_QUOTATION_RATE_LIMITED", `GET ${path}: 418, blocked`, {
          details: { status, blocked_until: allHeldUntil },
        });
      }
      if (status === 429) {
        rateLimited++;
        heldUntil.set(
          group,
          nextSecond() + backoffDelay(attempt, { initialMs: 100, maxMs: 2_000 }, random),
        );
        if (attempt >= maxRetries)
          throw new UplineError(
            "UPBIT_QUOTATION_RATE_LIMITED",
            `GET ${path}: 429 after ${attempt + 1} attempts`,
            {
              details: { status },
            },
          );
        retries++;
        continue;
      }
      if (status >= 500) {
        if (attempt >= maxRetries)
          throw new UplineError("UPBIT_QUOTATION_FAILED", `GET ${path}: ${status}`, {
            details: { status },
          });
        retries++;
        await sleep(backoffDelay(attempt, { initialMs: 200, maxMs: 5_000 }, random));
        continue;
      }
      throw new UplineError(
        "UPBIT_QUOTATION_REJECTED",
        `GET ${path}: ${status} ${text.slice(0, 200)}`,
        {
          details: { status },
        },
      );
    }
  }

  const trades = async (market: string, page: TradesPage = {}): Promise<Trade[]> => {
    const query: Record<string, string> = { market, count: String(page.count ?? PAGE) };
    if (page.cursor !== undefined) query.cursor = page.cursor;
    if (page.daysAgo !== undefined && page.daysAgo > 0) query.days_ago = String(page.daysAgo);
    const body = await get("trade", "/v1/trades/ticks", query);
    if (!Array.isArray(body))
      throw new UplineError("UPBIT_QUOTATION_FAILED", "trades/ticks: not a list");
    const now = timers.now();
    return body.map((t) => tradeFromRest(t, now));
  };

  return {
    markets: async () => {
      const body = await get("market", "/v1/market/all", {});
      if (!Array.isArray(body))
        throw new UplineError("UPBIT_QUOTATION_FAILED", "market/all: not a list");
      return body.map((m) => {
        const o = m as Record<string, unknown>;
        return {
          market: String(o.market),
          korean_name: String(o.korean_name ?? ""),
          english_name: String(o.english_name ?? ""),
        };
      });
    },
    trades,
    tradesSince: async (market, sinceTs, opts = {}) => {
      const maxPages = opts.maxPages ?? 50;
      const out: Trade[] = [];
      let cursor: string | undefined;
      let daysAgo = 0;
      for (let pages = 0; pages < maxPages; pages++) {
        const page = await trades(market, {
          count: PAGE,
          ...(cursor === undefined ? {} : { cursor }),
          ...(daysAgo > 0 ? { daysAgo } : {}),
        });
        let reachedOlder = false;
        for (const t of page) {
          if (t.exchange_ts >= sinceTs) out.push(t);
          else reachedOlder = true;
        }
        if (reachedOlder) return { trades: out, complete: true };
        const last = page[page.length - 1];
        if (page.length < PAGE || last === undefined) {
          // This UTC day is exhausted; the gap may reach into the day before.
          const now = timers.now() - daysAgo * DAY_MS;
          const dayStart = now - (now % DAY_MS);
          if (sinceTs >= dayStart || daysAgo >= 7) return { trades: out, complete: true };
          daysAgo++;
          cursor = undefined;
          continue;
        }
        if (last.sequential_id === cursor) return { trades: out, complete: true };
        cursor = last.sequential_id;
      }
      return { trades: out, complete: false };
    },
    orderbooks: async (markets, count) => {
      const query: Record<string, string> = { markets: markets.join(",") };
      if (count !== undefined) query.count = String(count);
      const body = await get("orderbook", "/v1/orderbook", query);
      if (!Array.isArray(body))
        throw new UplineError("UPBIT_QUOTATION_FAILED", "orderbook: not a list");
      const now = timers.now();
      return body.map((b) => orderbookFromRest(b, now));
    },
    stats: () => ({ requests, rateLimited, retries }),
    close: () => {
      closed ??= agent.close();
      return closed;
    },
  };
}

function headerString(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}
