import { env, serviceEnvSchema } from "@upline/shared";
import { z } from "zod";

const list = (what: string) =>
  z
    .string()
    .optional()
    .transform((v) =>
      v === undefined
        ? undefined
        : v
            .split(",")
            .map((s) => s.trim())
            .filter((s) => s !== ""),
    )
    .describe(what);

/** The market-feed service's environment (see the README's configuration table). */
export const configSchema = z
  .object({
    ...serviceEnvSchema,
    UPBIT_WS_URL: z
      .string()
      .default("wss://api.upbit.com/websocket/v1")
      .describe("Upbit public WebSocket URL"),
    UPBIT_REST_URL: z
      .string()
      .default("https://api.upbit.com")
      .describe("Upbit REST base URL, without /v1"),
    FEED_MARKETS: list("comma-separated markets to publish, e.g. KRW-BTC,KRW-ETH").refine(
      (v) => v === undefined || v.every((m) => /^[A-Z0-9]{2,10}-[A-Z0-9]{1,20}$/.test(m)),
      "must be upper-case Upbit market codes such as KRW-BTC",
    ),
    FEED_QUOTE_CURRENCIES: list(
      "publish every market of these quote currencies (from REST market/all), e.g. KRW,BTC",
    ),
    FEED_CHANNELS: z
      .string()
      .default("trade,ticker,orderbook")
      .transform((v) => v.split(",").map((s) => s.trim()))
      .pipe(z.array(z.enum(["trade", "ticker", "orderbook"])).min(1))
      .describe("channels to publish: trade, ticker, orderbook"),
    FEED_FORMAT: z
      .enum(["DEFAULT", "SIMPLE", "JSON_LIST", "SIMPLE_LIST"])
      .default("SIMPLE")
      .describe("Upbit WebSocket format to request"),
    FEED_ORDERBOOK_DEPTH: z.coerce
      .number()
      .int()
      .refine((n) => [1, 5, 15, 30].includes(n), "must be 1, 5, 15 or 30")
      .optional()
      .describe("order book depth (1, 5, 15, 30); Upbit's default is 30"),
    FEED_CODES_PER_CONNECTION: env
      .int("market codes per WebSocket connection (one subscription message each)", 1, 1000)
      .default(100),
    FEED_STALL_MS: env.int("no data for this long → reconnect", 500, 600_000).default(15_000),
    FEED_FRESH_MS: env
      .int("a market is fresh while its last event is younger than this", 100, 3_600_000)
      .default(30_000),
    FEED_MAX_IN_FLIGHT: env.int("JetStream publishes awaiting their ack", 1, 65_536).default(1024),
    FEED_BUFFER_MAX: env
      .int(
        "messages held while NATS is slow or unreachable (waiting or awaiting their ack); beyond it: a gap",
        100,
        10_000_000,
      )
      .default(100_000),
    FEED_PUBLISH_TIMEOUT_MS: env.int("ack timeout per publish", 100, 60_000).default(5_000),
    FEED_SEEN_PER_MARKET: env
      .int("sequential_ids remembered per market to collapse duplicates", 100, 10_000_000)
      .default(50_000),
    FEED_HEALTH_INTERVAL_MS: env
      .int("how often md.v1.health.<MARKET> is published", 100, 600_000)
      .default(1_000),
    FEED_TRACE_SAMPLE_RATIO: z.coerce
      .number()
      .min(0)
      .max(1)
      .default(0.01)
      .describe(
        "share of published messages that get a publish span (others carry an unsampled traceparent)",
      ),
    FEED_BACKFILL_MARGIN_MS: env
      .int("backfill starts this long before a gap's first missing trade", 0, 600_000)
      .default(2_000),
    FEED_BACKFILL_MAX_PAGES: env
      .int("REST pages (500 trades) per market per backfill", 1, 10_000)
      .default(40),
  })
  .refine((c) => c.FEED_MARKETS !== undefined || c.FEED_QUOTE_CURRENCIES !== undefined, {
    message: "set FEED_MARKETS or FEED_QUOTE_CURRENCIES",
    path: ["FEED_MARKETS"],
  });

export type Config = z.infer<typeof configSchema>;

/** Variables with this prefix must be known to the schema (catches typos). */
export const CONFIG_PREFIX = "FEED_";
