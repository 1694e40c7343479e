/**
 * market-feed: Upbit's public WebSocket → normalized ticks → stream MD.
 *
 * `buildMarketFeed(deps)` does nothing until `start()`:
 * 1. resolves the markets (FEED_MARKETS, plus every market of FEED_QUOTE_CURRENCIES
 *    from REST market/all) and opens one WebSocket per shard of markets;
 * 2. every event is collapsed against what this instance already took in
 *    (trades: a bounded set of sequential_ids per market; tickers and books:
 *    the newest exchange timestamp), then queued in a bounded outbox and
 *    published to `md.v1.upbit.<channel>.<MARKET>` with a stable Nats-Msg-Id
 *    (trade: market + sequential_id; ticker/book: market + exchange timestamp),
 *    so a second replica or a retry is dropped by JetStream's duplicate window;
 * 3. a gap — a connection that went down or stalled, or messages dropped
 *    because the outbox was full while NATS was unreachable — is recorded per
 *    market and closed by a REST backfill of trades/ticks (cursor paging) once
 *    data flows again; order books are re-snapshotted;
 * 4. health per market goes to `md.v1.health.<MARKET>` (core NATS) and to
 *    OpenTelemetry metrics; connects, disconnects, gaps and backfills to audit.
 *
 * `stop()`: not ready → close the sockets → publish what is buffered (within a
 * deadline) → close publishers and the REST pool. The NATS connection belongs
 * to the caller. A second `stop()` returns the same promise.
 */
import { randomBytes } from "node:crypto";
import { type MsgHdrs, type NatsConnection, headers as natsHeaders } from "@nats-io/transport-node";
import { context, metrics, SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
import {
  createFastAuditPublisher,
  createJsPublisher,
  type FeedHealth,
  FeedHealth as FeedHealthSchema,
  injectTraceContext,
  type JsPublisher,
  type Logger,
  type MarketEvent,
  publishCore,
  type Subjects,
  type Trade,
  UplineError,
} from "@upline/shared";
import {
  createQuotationClient,
  type MarketStream,
  openMarketStream,
  type QuotationClient,
  type SocketEvent,
  tradeJson,
  type UpbitSocketOptions,
} from "@upline/upbit";
import type { Config } from "./config.ts";
import { createSeenIds, type SeenIds } from "./dedup.ts";
import { isReady, marketHealth } from "./health.ts";
import { backpressureMarks, createOutbox, type Outbox, type OutboxItem } from "./outbox.ts";

export interface MarketFeedDeps {
  readonly config: Config;
  readonly nc: NatsConnection;
  readonly subjects: Subjects;
  readonly logger: Logger;
  /** Clock (epoch ms); default Date.now. */
  readonly now?: () => number;
  /** REST quotation client (default: one for UPBIT_REST_URL, closed by stop()). */
  readonly quotation?: QuotationClient;
  /** Socket overrides (tests: backoff, connect limiter, ping intervals). */
  readonly socket?: Omit<UpbitSocketOptions, "url" | "onFrame" | "onEvent" | "subscribe">;
  /** Called once per acknowledged publish (benchmarks, tests). */
  readonly onPublished?: (event: PublishedInfo) => void;
}

export interface PublishedInfo {
  readonly kind: "ticker" | "trade" | "orderbook";
  readonly market: string;
  readonly exchangeTs: number;
  readonly duplicate: boolean;
  /** Exchange timestamp → JetStream ack, in ms (local clock). */
  readonly latencyMs: number;
}

export interface FeedStats {
  readonly received: number;
  readonly published: number;
  /** Acks that JetStream reported as duplicates (another replica, a retry). */
  readonly duplicateAcks: number;
  /** Events this instance collapsed before publishing (repeated or older). */
  readonly collapsed: number;
  readonly invalidFrames: number;
  readonly upbitErrors: number;
  readonly dropped: number;
  readonly gaps: number;
  readonly backfilled: number;
  readonly backfills: number;
  readonly reconnects: number;
  readonly publishFailures: number;
  /** Times the sockets were paused because the outbox was behind (backpressure). */
  readonly wsPauses: number;
  readonly buffered: number;
  readonly inFlight: number;
}

export interface MarketFeed {
  /** Resolves once the sockets are opening; throws FEED_NO_MARKETS or a quotation error. */
  readonly start: () => Promise<void>;
  readonly stop: () => Promise<void>;
  /** Subscribed, every market fresh, not stopping. */
  readonly ready: () => boolean;
  readonly health: () => FeedHealth[];
  readonly stats: () => FeedStats;
  readonly markets: () => readonly string[];
  /** Drops every WebSocket connection (operator action; tests). */
  readonly reconnect: () => void;
}

interface MarketState {
  readonly market: string;
  readonly seen: SeenIds;
  readonly subject: { readonly ticker: string; readonly trade: string; readonly orderbook: string };
  connected: boolean;
  everOpened: boolean;
  lastTradeTs: number | undefined;
  lastTickerTs: number;
  lastBookTs: number;
  lastExchangeTs: number | undefined;
  lastEventAt: number | undefined;
  gaps: number;
  reconnects: number;
  /** Earliest exchange time of a pending gap; undefined: none. */
  gapSince: number | undefined;
  gapGen: number;
  backfilling: boolean;
  bookResnapshot: boolean;
  openedAt: number;
}

const meter = metrics.getMeter("@upline/market-feed");
const tracer = trace.getTracer("@upline/market-feed");
const LATENCY_ATTR = "upline.md.exchange_to_publish_ms";
// One attribute object per channel instead of one per message.
const CHANNEL_ATTRS = {
  trade: Object.freeze({ channel: "trade" }),
  ticker: Object.freeze({ channel: "ticker" }),
  orderbook: Object.freeze({ channel: "orderbook" }),
} as const;

// Unsampled trace ids: a random per-process prefix and a counter (unique, never all zero).
const TRACE_PREFIX = randomBytes(8).toString("hex");
let traceCounter = 0;
function unsampledTraceparent(): string {
  traceCounter++;
  const n = traceCounter.toString(16).padStart(16, "0");
  return `00-${TRACE_PREFIX}${n}-${n}-00`;
}

export function buildMarketFeed(deps: MarketFeedDeps): MarketFeed {
  const { config, nc, subjects } = deps;
  const now = deps.now ?? Date.now;
  const log = deps.logger.child({ component: "market-feed" });
  const quotation = deps.quotation ?? createQuotationClient({ baseUrl: config.UPBIT_REST_URL });
  const ownsQuotation = deps.quotation === undefined;
  const channels = new Set(config.FEED_CHANNELS);

  const states = new Map<string, MarketState>();
  let stream: MarketStream | undefined;
  let outbox: Outbox | undefined;
  let mdPublisher: JsPublisher | undefined;
  let healthTimer: NodeJS.Timeout | undefined;
  let started = false;
  // WebSocket backpressure (see backpressureMarks): while NATS is healthy but
  // behind, stop reading the sockets at `pauseAt` waiting messages and read
  // again at `resumeAt`; while publishing *fails* the sockets are never paused,
  // so the bounded buffer + gap logic applies as before.
  const { pauseAt, resumeAt } = backpressureMarks(
    config.FEED_BUFFER_MAX,
    config.FEED_MAX_IN_FLIGHT,
  );
  let wsPaused = false;
  const resumeSockets = () => {
    wsPaused = false;
    stream?.resume();
  };
  let stopping: Promise<void> | undefined;

  const c = {
    received: 0,
    published: 0,
    duplicateAcks: 0,
    collapsed: 0,
    invalidFrames: 0,
    upbitErrors: 0,
    dropped: 0,
    gaps: 0,
    backfilled: 0,
    backfills: 0,
    reconnects: 0,
    publishFailures: 0,
    wsPauses: 0,
  };

  const mPublished = meter.createCounter("md.feed.published", {
    description: "market-data messages acknowledged by JetStream",
  });
  const mCollapsed = meter.createCounter("md.feed.collapsed", {
    description: "duplicated or out-of-order events collapsed before publishing",
  });
  const mInvalid = meter.createCounter("md.feed.invalid_frames", {
    description: "WebSocket frames that could not be parsed",
  });
  const mGaps = meter.createCounter("md.feed.gaps", { description: "gaps recorded per market" });
  const mReconnects = meter.createCounter("md.feed.reconnects", {
    description: "WebSocket connections lost per market",
  });
  const mLatency = meter.createHistogram("md.feed.exchange_to_publish_ms", {
    description: "exchange timestamp to JetStream ack",
    unit: "ms",
  });
  const mStaleness = meter.createObservableGauge("md.feed.staleness_ms", {
    description: "time since the last event per market",
    unit: "ms",
  });
  const observeStaleness = (result: {
    observe: (v: number, attrs: Record<string, string>) => void;
  }) => {
    const t = now();
    for (const m of states.values())
      if (m.lastEventAt !== undefined) result.observe(t - m.lastEventAt, { market: m.market });
  };

  // ------------------------------------------------------------ audit

  const auditPublisher = createJsPublisher(nc, { maxOutstanding: 64, timeoutMs: 5_000 });
  const audit = createFastAuditPublisher(auditPublisher, subjects, "market-feed", now);
  const record = (kind: string, outcome: "ok" | "error", data: Record<string, unknown>): void => {
    audit
      .record({ kind, outcome, data })
      .catch((err: unknown) => log.warn({ err, kind }, "audit event not recorded"));
  };

  // ------------------------------------------------------------ gaps and backfill

  const markGap = (m: MarketState, since: number, reason: string) => {
    if (m.gapSince === undefined) {
      m.gaps++;
      c.gaps++;
      mGaps.add(1, { market: m.market, reason });
      record("gap", "error", { market: m.market, since, reason });
      log.warn({ market: m.market, since, reason }, "gap recorded");
      m.gapSince = since;
    } else m.gapSince = Math.min(m.gapSince, since);
    m.gapGen++;
  };

  const canBackfill = (m: MarketState) =>
    m.gapSince !== undefined &&
    m.connected &&
    !m.backfilling &&
    stopping === undefined &&
    outbox !== undefined &&
    !outbox.failing() &&
    outbox.buffered() < config.FEED_BUFFER_MAX / 2;

  const backfill = async (m: MarketState) => {
    m.backfilling = true;
    const gen = m.gapGen;
    const gapSince = m.gapSince as number;
    const since = gapSince - config.FEED_BACKFILL_MARGIN_MS;
    c.backfills++;
    try {
      let published = 0;
      let fetched = 0;
      let complete = true;
      if (channels.has("trade")) {
        const r = await quotation.tradesSince(m.market, since, {
          maxPages: config.FEED_BACKFILL_MAX_PAGES,
        });
        complete = r.complete;
        fetched = r.trades.length;
        // Oldest first, as they happened.
        for (let i = r.trades.length - 1; i >= 0; i--) {
          const t = r.trades[i] as Trade;
          if (!m.seen.add(t.sequential_id)) continue;
          if (!enqueueTrade(m, t)) {
            complete = false;
            break;
          }
          published++;
        }
      }
      if (channels.has("orderbook") && m.bookResnapshot) {
        const [book] = await quotation.orderbooks([m.market], config.FEED_ORDERBOOK_DEPTH);
        if (book !== undefined) {
          m.bookResnapshot = false;
          onEvent(book);
        }
      }
      c.backfilled += published;
      if (m.gapGen === gen) m.gapSince = undefined;
      record("backfill", complete ? "ok" : "error", {
        market: m.market,
        since,
        fetched,
        published,
        complete,
      });
      log.info({ market: m.market, since, fetched, published, complete }, "backfill done");
    } catch (err) {
      log.warn({ err, market: m.market }, "backfill failed; will retry");
    } finally {
      m.backfilling = false;
    }
  };

  const maybeBackfill = (m: MarketState) => {
    if (canBackfill(m)) void backfill(m);
  };

  // ------------------------------------------------------------ publishing

  // Head sampling: a sampled message gets a real PRODUCER span (with the
  // exchange→publish latency attribute) and its traceparent; every other one
  // carries a valid, unsampled traceparent (flags 00), which costs a string
  // instead of a span — spans were the largest per-message cost at 50k msgs/s.
  const ratio = config.FEED_TRACE_SAMPLE_RATIO;
  const beforePublish = (item: OutboxItem): MsgHdrs | string => {
    if (ratio >= 1 || (ratio > 0 && Math.random() < ratio)) {
      const span = tracer.startSpan(`md publish ${item.kind}`, {
        kind: SpanKind.PRODUCER,
        attributes: {
          "messaging.system": "nats",
          "messaging.destination.name": item.subject,
          "messaging.message.id": item.msgId,
          "upline.market": item.market,
        },
      });
      item.span = span;
      return injectTraceContext(natsHeaders(), trace.setSpan(context.active(), span));
    }
    // Just the value: the publisher writes it in a pre-formatted header block.
    return unsampledTraceparent();
  };

  const onAcked = (item: OutboxItem, duplicate: boolean) => {
    if (wsPaused && (outbox as Outbox).buffered() <= resumeAt) resumeSockets();
    const t = now();
    const latency = t - item.exchangeTs;
    const span = item.span;
    if (span !== undefined) {
      item.span = undefined;
      span.setAttribute(LATENCY_ATTR, latency);
      if (duplicate) span.setAttribute("upline.md.duplicate", true);
      span.end();
    }
    c.published++;
    if (duplicate) c.duplicateAcks++;
    const attrs = CHANNEL_ATTRS[item.kind];
    mPublished.add(1, attrs);
    mLatency.record(latency, attrs);
    deps.onPublished?.({
      kind: item.kind,
      market: item.market,
      exchangeTs: item.exchangeTs,
      duplicate,
      latencyMs: latency,
    });
  };

  const onFailed = (item: OutboxItem, err: unknown) => {
    c.publishFailures++;
    if (wsPaused) resumeSockets();
    const span = item.span;
    if (span !== undefined) {
      item.span = undefined;
      span.recordException(err as Error);
      span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error)?.message ?? "failed" });
      span.end();
    }
    if (c.publishFailures === 1 || c.publishFailures % 1000 === 0)
      log.warn(
        { err, failures: c.publishFailures, buffered: outbox?.buffered() },
        "publish not acknowledged; retrying",
      );
  };

  const onRecovered = () => {
    log.info({ buffered: outbox?.buffered() }, "publishing acknowledged again");
    for (const m of states.values()) maybeBackfill(m);
  };

  const offer = (m: MarketState, item: OutboxItem): boolean => {
    if (outbox?.offer(item)) {
      if (!wsPaused && outbox.buffered() >= pauseAt && !outbox.failing()) {
        wsPaused = true;
        c.wsPauses++;
        stream?.pause();
      }
      return true;
    }
    c.dropped++;
    if (item.kind === "trade" && item.id !== undefined) m.seen.forget(item.id);
    if (item.kind === "orderbook") m.bookResnapshot = true;
    markGap(m, item.exchangeTs, "buffer_full");
    return false;
  };

  const enqueueTrade = (m: MarketState, t: Trade): boolean =>
    offer(m, {
      subject: m.subject.trade,
      msgId: `${m.market}:trade:${t.sequential_id}`,
      data: tradeJson(t),
      market: m.market,
      kind: "trade",
      id: t.sequential_id,
      exchangeTs: t.exchange_ts,
      span: undefined,
      attempts: 0,
    });

  const onEvent = (e: MarketEvent) => {
    const m = states.get(e.market);
    if (m === undefined || !channels.has(e.type)) return;
    c.received++;
    const t = now();
    m.lastEventAt = t;
    if (m.lastExchangeTs === undefined || e.exchange_ts > m.lastExchangeTs)
      m.lastExchangeTs = e.exchange_ts;
    if (e.type === "trade") {
      if (m.lastTradeTs === undefined || e.exchange_ts > m.lastTradeTs)
        m.lastTradeTs = e.exchange_ts;
      if (!m.seen.add(e.sequential_id)) {
        c.collapsed++;
        mCollapsed.add(1, { channel: "trade" });
      } else enqueueTrade(m, e);
    } else {
      const last = e.type === "ticker" ? m.lastTickerTs : m.lastBookTs;
      if (e.exchange_ts <= last) {
        c.collapsed++;
        mCollapsed.add(1, { channel: e.type });
      } else {
        if (e.type === "ticker") m.lastTickerTs = e.exchange_ts;
        else m.lastBookTs = e.exchange_ts;
        offer(m, {
          subject: e.type === "ticker" ? m.subject.ticker : m.subject.orderbook,
          msgId: `${m.market}:${e.type}:${e.exchange_ts}`,
          data: JSON.stringify(e),
          market: m.market,
          kind: e.type,
          exchangeTs: e.exchange_ts,
          span: undefined,
          attempts: 0,
        });
      }
    }
    if (m.gapSince !== undefined) maybeBackfill(m);
  };

  // ------------------------------------------------------------ connections

  const onConnection = (shard: number, markets: readonly string[], event: SocketEvent) => {
    const t = now();
    if (event.type === "open") {
      for (const code of markets) {
        const m = states.get(code);
        if (m === undefined) continue;
        m.connected = true;
        m.everOpened = true;
        m.openedAt = t;
      }
      record("connect", "ok", { shard, markets: markets.length, connects: event.connects });
      log.info({ shard, markets: markets.length }, "WebSocket subscribed");
    } else if (event.type === "down") {
      let wasOpen = false;
      for (const code of markets) {
        const m = states.get(code);
        if (m === undefined) continue;
        if (m.connected) wasOpen = true;
        m.connected = false;
        if (!m.everOpened) continue;
        m.reconnects++;
        mReconnects.add(1, { market: m.market, reason: event.reason });
        markGap(m, m.lastTradeTs ?? m.openedAt, `ws_${event.reason}`);
      }
      if (wasOpen) {
        c.reconnects++;
        record("disconnect", "error", {
          shard,
          reason: event.reason,
          code: event.code,
          error: event.error?.code,
          retry_in_ms: event.retryInMs,
        });
        log.warn(
          { shard, reason: event.reason, code: event.code, retryInMs: event.retryInMs },
          "WebSocket down; reconnecting",
        );
      }
    }
  };

  // ------------------------------------------------------------ health

  const health = (): FeedHealth[] => {
    const t = now();
    return [...states.values()].map((m) => marketHealth(m, t, config.FEED_FRESH_MS));
  };

  const publishHealth = () => {
    if (nc.isClosed()) return;
    for (const h of health()) {
      try {
        publishCore(nc, subjects.md.health(h.market), FeedHealthSchema, h);
      } catch (err) {
        log.debug({ err }, "health not published");
        return;
      }
    }
    for (const m of states.values()) maybeBackfill(m);
  };

  // ------------------------------------------------------------ lifecycle

  const resolveMarkets = async (): Promise<string[]> => {
    const out = new Set(config.FEED_MARKETS ?? []);
    const quotes = config.FEED_QUOTE_CURRENCIES;
    if (quotes !== undefined && quotes.length > 0) {
      const all = await quotation.markets();
      for (const { market } of all)
        if (quotes.includes(market.split("-")[0] as string)) out.add(market);
    }
    if (out.size === 0)
      throw new UplineError(
        "FEED_NO_MARKETS",
        "FEED_MARKETS / FEED_QUOTE_CURRENCIES select no market",
      );
    return [...out].sort();
  };

  return {
    start: async () => {
      if (started) return;
      started = true;
      const markets = await resolveMarkets();
      const t = now();
      for (const market of markets) {
        states.set(market, {
          market,
          seen: createSeenIds(config.FEED_SEEN_PER_MARKET),
          subject: {
            ticker: subjects.md.event("ticker", market),
            trade: subjects.md.event("trade", market),
            orderbook: subjects.md.event("orderbook", market),
          },
          connected: false,
          everOpened: false,
          lastTradeTs: undefined,
          lastTickerTs: 0,
          lastBookTs: 0,
          lastExchangeTs: undefined,
          lastEventAt: undefined,
          gaps: 0,
          reconnects: 0,
          gapSince: undefined,
          gapGen: 0,
          backfilling: false,
          bookResnapshot: false,
          openedAt: t,
        });
      }
      mdPublisher = createJsPublisher(nc, {
        maxOutstanding: config.FEED_MAX_IN_FLIGHT,
        timeoutMs: config.FEED_PUBLISH_TIMEOUT_MS,
      });
      outbox = createOutbox({
        publisher: mdPublisher,
        maxInFlight: config.FEED_MAX_IN_FLIGHT,
        maxBuffered: config.FEED_BUFFER_MAX,
        beforePublish,
        onAcked,
        onFailed,
        onRecovered,
        now,
        setTimeout: (fn, ms) => setTimeout(fn, ms).unref(),
        clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
      });
      mStaleness.addCallback(observeStaleness);
      stream = openMarketStream({
        url: config.UPBIT_WS_URL,
        markets,
        channels: config.FEED_CHANNELS,
        format: config.FEED_FORMAT,
        ...(config.FEED_ORDERBOOK_DEPTH === undefined
          ? {}
          : { orderbookDepth: config.FEED_ORDERBOOK_DEPTH }),
        maxCodesPerConnection: config.FEED_CODES_PER_CONNECTION,
        socket: { stallMs: config.FEED_STALL_MS, ...deps.socket },
        now,
        onEvent,
        onInvalid: (err) => {
          c.invalidFrames++;
          mInvalid.add(1);
          if (c.invalidFrames <= 10 || c.invalidFrames % 1000 === 0)
            log.warn({ err, invalidFrames: c.invalidFrames }, "malformed frame skipped");
        },
        onUpbitError: (err) => {
          c.upbitErrors++;
          log.error({ err }, "Upbit refused a WebSocket request");
        },
        onConnection,
      });
      stream.start();
      healthTimer = setInterval(publishHealth, config.FEED_HEALTH_INTERVAL_MS);
      healthTimer.unref();
      log.info(
        { markets: markets.length, shards: stream.shards.length, channels: config.FEED_CHANNELS },
        "market-feed started",
      );
    },
    stop: () => {
      stopping ??= (async () => {
        if (healthTimer !== undefined) clearInterval(healthTimer);
        await stream?.close();
        for (const m of states.values()) m.connected = false;
        if (outbox !== undefined) {
          const flushed = await outbox.flush(config.FEED_PUBLISH_TIMEOUT_MS);
          if (!flushed)
            log.warn({ buffered: outbox.buffered() }, "stopped with messages not acknowledged");
          outbox.close();
        }
        mStaleness.removeCallback(observeStaleness);
        await mdPublisher?.close().catch(() => {});
        await auditPublisher.close().catch(() => {});
        if (ownsQuotation) await quotation.close();
      })().catch((err: unknown) => {
        log.error({ err }, "stop failed");
      });
      return stopping;
    },
    ready: () => started && stopping === undefined && isReady(health()),
    health,
    stats: () => ({
      ...c,
      buffered: outbox?.buffered() ?? 0,
      inFlight: outbox?.inFlight() ?? 0,
    }),
    markets: () => [...states.keys()],
    reconnect: () => stream?.reconnect(),
  };
}
