/**
 * Wiring only: read config, start the runtime, build and start the signer,
 * serve health, reload on SIGHUP, stop on SIGTERM.
 */
import {
  loadConfig,
  runMain,
  startHealthServer,
  startRuntime,
  stopOnSignals,
} from "@upline/shared";
import { buildSigner } from "./app.ts";
import { CONFIG_PREFIX, configSchema } from "./config.ts";

runMain("signer", async () => {
  const config = loadConfig(configSchema, process.env, { strictPrefixes: [CONFIG_PREFIX] });
  const runtime = await startRuntime("signer", config);
  const log = runtime.logger;
  if (config.SIGNER_DEV_KEYS !== undefined)
    log.warn(
      "DEVELOPMENT: exchange keys are read from the environment (SIGNER_DEV_KEYS); never do this in production",
    );
  const signer = buildSigner({
    nc: runtime.nc,
    subjects: runtime.subjects,
    logger: log,
    settings: {
      keysDir: config.SIGNER_KEYS_DIR,
      devKeysJson: config.SIGNER_DEV_KEYS,
      callersFile: config.SIGNER_CALLERS_FILE,
      jwtAlg: config.SIGNER_JWT_ALG,
      rotationGraceMs: config.SIGNER_ROTATION_GRACE_S * 1000,
      expiryWarnDays: config.SIGNER_EXPIRY_WARN_DAYS,
      sessionTtlMs: config.SIGNER_SESSION_TTL_S * 1000,
      auditMaxInFlight: config.SIGNER_AUDIT_MAX_IN_FLIGHT,
      watchFiles: config.SIGNER_WATCH_FILES,
    },
  });
  const health = await startHealthServer(config.HEALTH_PORT, {
    live: () => true,
    ready: signer.ready,
    detail: signer.detail,
  });
  try {
    await signer.start();
  } catch (err) {
    await health.close();
    await runtime.stop();
    throw err;
  }
  process.on("SIGHUP", () => {
    signer.reload().catch((err: unknown) => log.error({ err }, "reload failed"));
  });
  log.info({ health: health.url, replica: signer.replicaId }, "signer started");
  stopOnSignals(
    {
      // Not ready first (the signer's stop flips readiness), drain, then NATS and telemetry.
      stop: async () => {
        await signer.stop();
        await health.close();
        await runtime.stop();
      },
    },
    log,
  );
});
