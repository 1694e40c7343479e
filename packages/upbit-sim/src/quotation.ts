/** Quotation (public) REST handlers. Errors carry integer names, as Upbit's do. */
import type { Exchange } from "./exchange.ts";
import type { Market } from "./market.ts";
import type { Params } from "./params.ts";
import { candles, instruments, restOrderbook, restTicker, restTrade } from "./views.ts";

export interface Reply {
  readonly status: number;
  readonly body: unknown;
}

export interface QuotationError {
  readonly status: number;
  readonly error: { readonly name: number; readonly message: string };
}

export type QuotationResult = Reply | QuotationError;

const INVALID = "Invalid parameter. Check the given value!";
const MISSING = "Missing request parameter error. Check the required parameters!";

function qerr(status: number, message: string): QuotationError {
  return { status, error: { name: status, message } };
}

function ok(body: unknown): Reply {
  return { status: 200, body };
}

function marketsOf(ex: Exchange, p: Params, key: string): Market[] | QuotationError {
  if (!p.has(key)) return qerr(400, MISSING);
  const out: Market[] = [];
  for (const code of p.list(key)) {
    const m = ex.markets.get(code);
    if (m === undefined) return qerr(404, "Code not found");
    out.push(m);
  }
  if (out.length === 0) return qerr(404, "Code not found");
  return out;
}

export function marketAll(ex: Exchange, p: Params): QuotationResult {
  const details = p.get("is_details") === "true";
  return ok(
    [...ex.markets.values()].map((m) => {
      const row: Record<string, unknown> = {
        market: m.code,
        korean_name: m.koreanName,
        english_name: m.englishName,
      };
      if (details)
        row.market_event = {
          warning: false,
          caution: {
            PRICE_FLUCTUATIONS: false,
            TRADING_VOLUME_SOARING: false,
            DEPOSIT_AMOUNT_SOARING: false,
            GLOBAL_PRICE_DIFFERENCES: false,
            CONCENTRATION_OF_SMALL_ACCOUNTS: false,
          },
        };
      return row;
    }),
  );
}

export function ticker(ex: Exchange, p: Params): QuotationResult {
  const ms = marketsOf(ex, p, "markets");
  if (!Array.isArray(ms)) return ms;
  const now = ex.now();
  return ok(ms.map((m) => restTicker(m, now)));
}

export function tickerAll(ex: Exchange, p: Params): QuotationResult {
  if (!p.has("quote_currencies")) return qerr(400, MISSING);
  const quotes = new Set(p.list("quote_currencies"));
  const now = ex.now();
  return ok(
    [...ex.markets.values()].filter((m) => quotes.has(m.quote)).map((m) => restTicker(m, now)),
  );
}

export function orderbook(ex: Exchange, p: Params): QuotationResult {
  const ms = marketsOf(ex, p, "markets");
  if (!Array.isArray(ms)) return ms;
  let count = p.int("count", 30);
  if (!(count >= 1 && count <= 30)) count = 30;
  const level = p.get("level") ?? "0";
  if (level !== "0") return ok([]);
  const now = ex.now();
  return ok(ms.map((m) => restOrderbook(m, count, now)));
}

export function orderbookInstruments(ex: Exchange, p: Params): QuotationResult {
  const ms = marketsOf(ex, p, "markets");
  if (!Array.isArray(ms)) return ms;
  return ok(ms.map(instruments));
}

export function tradesTicks(ex: Exchange, p: Params): QuotationResult {
  const ms = marketsOf(ex, p, "market");
  if (!Array.isArray(ms)) return ms;
  const m = ms[0]!;
  const count = p.int("count", 1);
  if (!(count >= 1 && count <= 500)) return qerr(400, INVALID);
  const daysAgo = p.int("days_ago", 0);
  if (!(daysAgo >= 0 && daysAgo <= 7)) return qerr(400, INVALID);
  const cursorRaw = p.get("cursor");
  const cursor =
    cursorRaw === undefined || cursorRaw === "" ? Number.POSITIVE_INFINITY : Number(cursorRaw);
  if (Number.isNaN(cursor)) return qerr(400, INVALID);
  let to = Number.POSITIVE_INFINITY;
  const toRaw = p.get("to");
  const dayStart = (() => {
    const now = ex.now() - daysAgo * 86_400_000;
    return now - (now % 86_400_000);
  })();
  const dayEnd = daysAgo === 0 ? Number.POSITIVE_INFINITY : dayStart + 86_400_000;
  if (toRaw !== undefined && toRaw !== "") {
    const mt = /^(\d\d):?(\d\d):?(\d\d)$/.exec(toRaw);
    if (mt === null) return qerr(400, INVALID);
    to = dayStart + (Number(mt[1]) * 3600 + Number(mt[2]) * 60 + Number(mt[3])) * 1000;
  }
  const out = [];
  for (let i = m.trades.length - 1; i >= 0 && out.length < count; i--) {
    const t = m.trades[i]!;
    if (t.sequentialId >= cursor || t.timestamp >= to || t.timestamp >= dayEnd) continue;
    if (daysAgo > 0 && t.timestamp < dayStart) break;
    out.push(restTrade(m, t));
  }
  return ok(out);
}

const MINUTE_UNITS = new Set([1, 3, 5, 10, 15, 30, 60, 240]);

/** `/v1/candles/{seconds|minutes/N|days|weeks|months|years}` */
export function candleRoute(ex: Exchange, p: Params, path: string): QuotationResult {
  const rest = path.slice("/v1/candles/".length);
  const [kind, unitRaw] = rest.split("/") as [string, string | undefined];
  let unit = 1;
  if (kind === "minutes") {
    unit = Number(unitRaw);
    if (!MINUTE_UNITS.has(unit)) return qerr(400, INVALID);
  } else if (
    !["seconds", "days", "weeks", "months", "years"].includes(kind) ||
    unitRaw !== undefined
  )
    return qerr(404, "Not found");
  const ms = marketsOf(ex, p, "market");
  if (!Array.isArray(ms)) return ms;
  const count = p.int("count", 1);
  if (!(count >= 1 && count <= 200)) return qerr(400, INVALID);
  let to = Number.POSITIVE_INFINITY;
  const toRaw = p.get("to");
  if (toRaw !== undefined && toRaw !== "") {
    const iso = /[zZ]|[+-]\d\d:?\d\d$/.test(toRaw)
      ? toRaw.replace(" ", "T")
      : `${toRaw.replace(" ", "T")}Z`;
    to = Date.parse(iso);
    if (Number.isNaN(to)) return qerr(400, INVALID);
  }
  return ok(candles(ms[0]!, kind, unit, count, to));
}
