/**
 * Wiring only: read config, start the runtime, serve health, stop on SIGTERM.
 * The audit service's behaviour is built by its own issue.
 */
import {
  loadConfig,
  runMain,
  startHealthServer,
  startRuntime,
  stopOnSignals,
} from "@upline/shared";
import { CONFIG_PREFIX, configSchema } from "./config.ts";

runMain("audit", async () => {
  const config = loadConfig(configSchema, process.env, { strictPrefixes: [CONFIG_PREFIX] });
  const runtime = await startRuntime("audit", config);
  const health = await startHealthServer(config.HEALTH_PORT, {
    live: () => true,
    ready: () => !runtime.nc.isClosed(),
  });
  runtime.logger.info({ health: health.url }, "audit started");
  stopOnSignals(
    {
      stop: async () => {
        await health.close();
        await runtime.stop();
      },
    },
    runtime.logger,
  );
});
