/**
 * `upline feed watch <MARKET>`: the live ticker, trades and order book of one
 * market from `md.v1.upbit.*.<MARKET>`, and its feed health from
 * `md.v1.health.<MARKET>`. On a terminal the view redraws in place a few times
 * a second; otherwise (or with --json) one line per event. Ctrl-C stops it.
 */
import { parseArgs } from "node:util";
import type { Msg } from "@nats-io/transport-node";
import {
  decodeMessage,
  FeedHealth,
  isMarketCode,
  MarketEvent,
  MdChannel,
  type Orderbook,
  type Ticker,
  type Trade,
} from "@upline/shared";
import { withBus } from "../bus.ts";
import { type Command, UsageError } from "../cli.ts";
import { cliConfig } from "../config.ts";
import { ago, ExitCode } from "../output.ts";

/** The latest of each kind, for the redrawn view. */
export interface FeedView {
  market: string;
  ticker?: Ticker;
  book?: Orderbook;
  trades: Trade[];
  health?: FeedHealth;
  events: number;
}

export function formatTicker(t: Ticker): string {
  const pct = (Number(t.signed_change_rate) * 100).toFixed(2);
  return `${t.market} ${t.trade_price}  ${t.change} ${t.signed_change_price} (${pct}%)  H ${t.high_price} L ${t.low_price}  vol24h ${t.acc_trade_volume_24h}`;
}

export function formatTrade(t: Trade): string {
  return `${new Date(t.exchange_ts).toISOString().slice(11, 23)}  ${t.side === "bid" ? "BUY " : "SELL"} ${t.volume} @ ${t.price}  #${t.sequential_id}`;
}

export function formatBookTop(b: Orderbook): string {
  const u = b.units[0];
  if (u === undefined) return `${b.market} book empty`;
  return `${b.market} book  bid ${u.bid_size} @ ${u.bid_price}  |  ask ${u.ask_size} @ ${u.ask_price}  (${b.units.length} levels)`;
}

export function formatHealth(h: FeedHealth, now = Date.now()): string {
  const last = h.last_exchange_ts === undefined ? "never" : `${ago(now - h.last_exchange_ts)} ago`;
  return `feed ${h.state}  last event ${last}  gaps ${h.gaps}  reconnects ${h.reconnects}`;
}

/** The redrawn screen: ticker, health, five book levels, the last trades. */
export function renderView(v: FeedView, now = Date.now()): string {
  const lines = [
    `upline feed watch ${v.market}   (${v.events} events; Ctrl-C to stop)`,
    v.ticker ? formatTicker(v.ticker) : "ticker: waiting…",
    v.health ? formatHealth(v.health, now) : "health: waiting… (is market-feed running?)",
    "",
    "         bid size          bid  |  ask                ask size",
  ];
  for (const u of v.book?.units.slice(0, 5) ?? [])
    lines.push(
      `${u.bid_size.padStart(14)} ${u.bid_price.padStart(14)}  |  ${u.ask_price.padEnd(14)} ${u.ask_size.padStart(12)}`,
    );
  if (v.book === undefined) lines.push("  book: waiting…");
  lines.push("", "last trades:");
  for (const t of v.trades) lines.push(`  ${formatTrade(t)}`);
  return `\x1b[H\x1b[2J${lines.join("\n")}\n`;
}

const watch: Command = {
  path: ["feed", "watch"],
  summary: "live ticker, trades, book and feed health of one market (Ctrl-C to stop)",
  usage: "<MARKET> [--json] [--count N]   e.g. upline feed watch KRW-BTC",
  run: async (args, io) => {
    const { values, positionals } = parseArgs({
      args: [...args],
      options: { json: { type: "boolean", default: false }, count: { type: "string" } },
      allowPositionals: true,
      strict: true,
    });
    const market = positionals[0];
    if (market === undefined || positionals.length > 1)
      throw new UsageError("give exactly one market, e.g. KRW-BTC");
    if (!isMarketCode(market)) throw new UsageError(`${market} is not an Upbit market code`);
    const max = values.count === undefined ? Number.POSITIVE_INFINITY : Number(values.count);
    if (!(max > 0)) throw new UsageError("--count must be a positive number");
    const config = cliConfig(io.env);
    return withBus(config, async ({ nc, subjects }) => {
      const view: FeedView = { market, trades: [], events: 0 };
      const live = io.isTty === true && !values.json;
      let done: () => void = () => undefined;
      const finished = new Promise<void>((resolve) => {
        done = resolve;
      });
      const onMessage = (msg: Msg, health: boolean) => {
        if (view.events >= max) return;
        let line: string;
        try {
          if (health) {
            const h = decodeMessage(FeedHealth, msg.data, msg.subject);
            view.health = h;
            line = values.json ? JSON.stringify({ subject: msg.subject, ...h }) : formatHealth(h);
          } else {
            const e = decodeMessage(MarketEvent, msg.data, msg.subject);
            if (e.type === "ticker") view.ticker = e;
            else if (e.type === "orderbook") view.book = e;
            else view.trades = [e, ...view.trades].slice(0, 8);
            line = values.json
              ? JSON.stringify({ subject: msg.subject, ...e })
              : e.type === "ticker"
                ? formatTicker(e)
                : e.type === "orderbook"
                  ? formatBookTop(e)
                  : `${e.market} ${formatTrade(e)}`;
          }
        } catch (err) {
          io.err(
            `upline: skipped a malformed message on ${msg.subject}: ${(err as Error).message}\n`,
          );
          return;
        }
        view.events++;
        if (!live) io.out(`${line}\n`);
        if (view.events >= max) done();
      };
      const subs = [
        ...Object.values(MdChannel).map((channel) =>
          nc.subscribe(subjects.md.event(channel, market), {
            callback: (err, msg) => {
              if (!err) onMessage(msg, false);
            },
          }),
        ),
        nc.subscribe(subjects.md.health(market), {
          callback: (err, msg) => {
            if (!err) onMessage(msg, true);
          },
        }),
      ];
      await nc.flush();
      if (!live && !values.json) io.err(`watching ${market} (Ctrl-C to stop)\n`);
      const timer = live ? setInterval(() => io.out(renderView(view)), 250) : undefined;
      const onAbort = () => done();
      io.signal.addEventListener("abort", onAbort, { once: true });
      if (io.signal.aborted) done();
      await finished;
      io.signal.removeEventListener("abort", onAbort);
      if (timer !== undefined) clearInterval(timer);
      for (const s of subs) s.unsubscribe();
      if (live) io.out(renderView(view));
      return ExitCode.Ok;
    });
  },
};

export const feedCommands: readonly Command[] = [watch];
