import assert from "node:assert/strict";
import { jetstream } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import {
  connectBus,
  createLogger,
  createSubjects,
  defaultStreamLimits,
  ensureStreams,
  loadConfig,
  type Subjects,
  Trade,
} from "@upline/shared";
import { tradeJson } from "@upline/upbit";
import type { Sim } from "@upline/upbit-sim";
import { buildMarketFeed, type Config, configSchema, type MarketFeed } from "../src/index.ts";

export const quietLogger = createLogger({ service: "market-feed", level: "silent" });

export async function connectTest(url: string, name = "feed-test"): Promise<NatsConnection> {
  return connectBus({ NATS_URL: url }, { name, logger: quietLogger });
}

export async function prepareStreams(nc: NatsConnection, namespace: string): Promise<Subjects> {
  const subjects = createSubjects(namespace);
  await ensureStreams(nc, subjects, defaultStreamLimits);
  return subjects;
}

export function feedConfig(
  natsUrl: string,
  namespace: string,
  sim: Sim,
  extra: Record<string, string> = {},
): Config {
  return loadConfig(configSchema, {
    NATS_URL: natsUrl,
    UPLINE_NAMESPACE: namespace,
    UPBIT_WS_URL: sim.wsUrl,
    UPBIT_REST_URL: sim.restUrl,
    FEED_MARKETS: "KRW-BTC,KRW-ETH",
    FEED_STALL_MS: "800",
    FEED_FRESH_MS: "60000",
    FEED_HEALTH_INTERVAL_MS: "200",
    FEED_BACKFILL_MARGIN_MS: "1000",
    ...extra,
  });
}

export function startFeed(
  config: Config,
  nc: NatsConnection,
  subjects: Subjects,
  name = "feed",
): MarketFeed {
  return buildMarketFeed({
    config,
    nc,
    subjects,
    logger: quietLogger.child({ instance: name }),
    socket: { backoff: { initialMs: 50, maxMs: 400 }, pingIntervalMs: 5_000 },
  });
}

/** Every trade on stream MD of a namespace: `market:sequential_id` → copies. */
export async function streamTrades(
  nc: NatsConnection,
  subjects: Subjects,
): Promise<Map<string, number>> {
  const js = jetstream(nc);
  const filter = subjects.md.all.replace(/>$/, "trade.>");
  const consumer = await js.consumers.get(subjects.streams.md, { filter_subjects: filter });
  const counts = new Map<string, number>();
  for (;;) {
    const batch = await consumer.fetch({ max_messages: 5_000, expires: 1_000 });
    let got = 0;
    let pending = 0;
    for await (const m of batch) {
      got++;
      pending = m.info.pending;
      const t = m.json<{ market: string; sequential_id: string }>();
      // What consumers rely on, whichever path wrote it (byte encoder or general):
      // a schema-valid trade in JSON.stringify's bytes, the stable Nats-Msg-Id, a traceparent.
      assert.equal(m.string(), tradeJson(Trade.parse(t)), "payload bytes");
      assert.equal(m.headers?.get("Nats-Msg-Id"), `${t.market}:trade:${t.sequential_id}`);
      // (A sampled message has none here: the tests install no OTel propagator.)
      const tp = m.headers?.get("traceparent") ?? "";
      if (tp !== "") assert.match(tp, /^00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]$/);
      const key = `${t.market}:${t.sequential_id}`;
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
    if (got === 0 || pending === 0) break;
  }
  return counts;
}

/** The simulator's trade log as `market:sequential_id` keys. */
export function simTrades(sim: Sim, markets: readonly string[]): Set<string> {
  const out = new Set<string>();
  for (const market of markets)
    for (const t of sim.admin.trades(market)) out.add(`${market}:${t.sequentialId}`);
  return out;
}

/** Missing, doubled and unexpected trades of the stream against the simulator's log. */
export function compare(
  expected: ReadonlySet<string>,
  actual: ReadonlyMap<string, number>,
): { missing: string[]; doubled: string[]; unexpected: string[] } {
  const missing = [...expected].filter((k) => !actual.has(k));
  const doubled = [...actual].filter(([, n]) => n > 1).map(([k]) => k);
  const unexpected = [...actual.keys()].filter((k) => !expected.has(k));
  return { missing, doubled, unexpected };
}
