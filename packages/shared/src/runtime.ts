/**
 * The start-up every service shares: logger, telemetry, NATS, streams. A
 * service's main.ts reads its config, calls {@link startRuntime}, builds its app
 * and hands `stop` to {@link stopOnSignals}.
 */
import type { NatsConnection } from "@nats-io/transport-node";
import { type BusConfig, connectBus } from "./bus.ts";
import { healthEnvSchema, natsEnvSchema, observabilityEnvSchema } from "./config.ts";
import { isUplineError } from "./errors.ts";
import { createLogger, type Logger } from "./log.ts";
import { ensureStreams, type StreamLimits, streamEnvSchema } from "./streams.ts";
import { createSubjects, type ServiceName, type Subjects } from "./subjects.ts";
import { startTelemetry, type Telemetry } from "./telemetry.ts";

/** Variables every service reads; spread into each service's schema. */
export const serviceEnvSchema = {
  ...natsEnvSchema,
  ...observabilityEnvSchema,
  ...healthEnvSchema,
  ...streamEnvSchema,
} as const;

export interface ServiceBaseConfig extends BusConfig, StreamLimits {
  readonly UPLINE_NAMESPACE?: string | undefined;
  readonly LOG_LEVEL: string;
  readonly OTEL_EXPORTER_OTLP_ENDPOINT?: string | undefined;
}

export interface Runtime {
  readonly service: ServiceName;
  readonly logger: Logger;
  readonly telemetry: Telemetry;
  readonly nc: NatsConnection;
  readonly subjects: Subjects;
  /** Drains NATS, then flushes telemetry. Safe to call twice. */
  readonly stop: () => Promise<void>;
}

export async function startRuntime(
  service: ServiceName,
  config: ServiceBaseConfig,
): Promise<Runtime> {
  const logger = createLogger({ service, level: config.LOG_LEVEL });
  const telemetry = startTelemetry({
    service,
    endpoint: config.OTEL_EXPORTER_OTLP_ENDPOINT,
    logger,
  });
  const nc = await connectBus(config, {
    name: `upline-${service}`,
    logger: logger.child({ component: "bus" }),
  });
  const subjects = createSubjects(config.UPLINE_NAMESPACE ?? "");
  await ensureStreams(nc, subjects, config);
  let stopping: Promise<void> | undefined;
  return {
    service,
    logger,
    telemetry,
    nc,
    subjects,
    stop: () => {
      stopping ??= (async () => {
        if (!nc.isClosed())
          await nc.drain().catch((err: unknown) => logger.warn({ err }, "NATS drain failed"));
        await telemetry.shutdown();
        logger.flush();
      })();
      return stopping;
    },
  };
}

/**
 * Runs a service's main function; a start-up failure is printed as one clear
 * line (a CONFIG_INVALID error lists every bad variable) and exits with code 1.
 */
export function runMain(service: ServiceName, main: () => Promise<void>): void {
  main().catch((err: unknown) => {
    const text = isUplineError(err)
      ? `${err.code}: ${err.message}`
      : ((err as Error)?.stack ?? String(err));
    process.stderr.write(`${service}: cannot start: ${text}\n`);
    process.exitCode = 1;
  });
}
