/**
 * Wiring only: read config, start the runtime, build and start order-exec,
 * serve health, stop on SIGTERM (not ready → drain intake → background work →
 * sockets and pools → NATS → telemetry).
 */
import { readFileSync } from "node:fs";
import {
  loadConfig,
  runMain,
  startHealthServer,
  startRuntime,
  stopOnSignals,
  UplineError,
} from "@upline/shared";
import { createSignerClient } from "@upline/signer";
import { buildOrderExec } from "./app.ts";
import { CONFIG_PREFIX, configSchema } from "./config.ts";

runMain("order-exec", async () => {
  const config = loadConfig(configSchema, process.env, { strictPrefixes: [CONFIG_PREFIX] });
  let privateJwk: Record<string, unknown>;
  try {
    privateJwk = JSON.parse(readFileSync(config.ORDER_EXEC_CALLER_KEY_FILE, "utf8")) as Record<
      string,
      unknown
    >;
  } catch (err) {
    // Never echo the file: it holds a private key.
    throw new UplineError(
      "CONFIG_INVALID",
      `ORDER_EXEC_CALLER_KEY_FILE: cannot read a JSON private JWK at ${config.ORDER_EXEC_CALLER_KEY_FILE}`,
      {
        cause: (err as Error).name,
      },
    );
  }
  const runtime = await startRuntime("order-exec", config);
  const signer = createSignerClient({
    nc: runtime.nc,
    subjects: runtime.subjects,
    callerId: config.ORDER_EXEC_CALLER_ID,
    privateJwk,
  });
  const app = buildOrderExec({
    nc: runtime.nc,
    subjects: runtime.subjects,
    logger: runtime.logger,
    sign: (args) => signer.sign(args),
    settings: {
      restUrl: config.UPBIT_REST_URL,
      privateWsUrl: config.UPBIT_PRIVATE_WS_URL,
      accounts: config.ORDER_EXEC_ACCOUNTS,
      pocket: config.ORDER_EXEC_POCKET,
      markets: config.ORDER_EXEC_MARKETS,
      minTotal: config.ORDER_EXEC_MIN_TOTAL,
      maxTotal: config.ORDER_EXEC_MAX_TOTAL,
      maxNotional: config.ORDER_EXEC_MAX_NOTIONAL,
      maxOrdersPerS: config.ORDER_EXEC_MAX_ORDERS_PER_S,
      orderLimit: config.ORDER_EXEC_ORDER_LIMIT,
      governor: config.ORDER_EXEC_GOVERNOR,
      queueMs: config.ORDER_EXEC_QUEUE_MS,
      httpTimeoutMs: config.ORDER_EXEC_HTTP_TIMEOUT_MS,
      absentAfterMs: config.ORDER_EXEC_ABSENT_AFTER_MS,
      resolveMs: config.ORDER_EXEC_RESOLVE_MS,
      recoverScanMs: config.ORDER_EXEC_RECOVER_SCAN_MS,
      ...(config.ORDER_EXEC_RECOVER_STALE_MS === undefined
        ? {}
        : { recoverStaleMs: config.ORDER_EXEC_RECOVER_STALE_MS }),
    },
  });
  const health = await startHealthServer(config.HEALTH_PORT, {
    live: () => true,
    ready: app.ready,
    detail: app.detail,
  });
  try {
    await app.start();
  } catch (err) {
    await health.close();
    await runtime.stop();
    throw err;
  }
  runtime.logger.info({ health: health.url }, "order-exec started");
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
});
