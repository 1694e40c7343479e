/**
 * Wiring only: read config, start the runtime, build and start the feed, serve
 * health (/readyz follows the feed: subscribed and fresh), stop on SIGTERM.
 */
import {
  loadConfig,
  runMain,
  startHealthServer,
  startRuntime,
  stopOnSignals,
} from "@upline/shared";
import { buildMarketFeed } from "./app.ts";
import { CONFIG_PREFIX, configSchema } from "./config.ts";

runMain("market-feed", async () => {
  const config = loadConfig(configSchema, process.env, { strictPrefixes: [CONFIG_PREFIX] });
  const runtime = await startRuntime("market-feed", config);
  const feed = buildMarketFeed({
    config,
    nc: runtime.nc,
    subjects: runtime.subjects,
    logger: runtime.logger,
  });
  const health = await startHealthServer(config.HEALTH_PORT, {
    live: () => true,
    ready: () => !runtime.nc.isClosed() && feed.ready(),
    detail: () => ({ markets: feed.health(), stats: feed.stats() }),
  });
  await feed.start();
  runtime.logger.info({ health: health.url }, "market-feed started");
  stopOnSignals(
    {
      stop: async () => {
        await feed.stop();
        await health.close();
        await runtime.stop();
      },
    },
    runtime.logger,
  );
});
