/**
 * Wiring only: read config, start the runtime, build the audit app, serve
 * health, stop on SIGTERM (not ready → stop consuming → finish the batch → close
 * the store → drain NATS → flush telemetry).
 */
import {
  loadConfig,
  runMain,
  startHealthServer,
  startRuntime,
  stopOnSignals,
} from "@upline/shared";
import { buildAudit } from "./app.ts";
import { CONFIG_PREFIX, configSchema } from "./config.ts";

runMain("audit", async () => {
  const config = loadConfig(configSchema, process.env, { strictPrefixes: [CONFIG_PREFIX] });
  const runtime = await startRuntime("audit", config);
  const app = buildAudit({
    config,
    nc: runtime.nc,
    subjects: runtime.subjects,
    logger: runtime.logger,
  });
  const health = await startHealthServer(config.HEALTH_PORT, {
    live: () => true,
    ready: () => !runtime.nc.isClosed() && app.ready(),
    detail: () => {
      const s = app.status();
      return { db_up: s.dbUp, lag: s.lag, head_seq: s.head.seq, database: s.database };
    },
  });
  runtime.logger.info({ health: health.url }, "audit health server listening");
  stopOnSignals(
    {
      stop: async () => {
        await app.stop();
        await health.close();
        await runtime.stop();
      },
    },
    runtime.logger,
  );
  await app.start();
});
