/** The CLI's NATS connection: one per command, bounded connect, drained at the end. */
import type { NatsConnection } from "@nats-io/transport-node";
import { connectBus, createLogger, createSubjects, type Subjects } from "@upline/shared";
import type { CliConfig } from "./config.ts";

const quiet = createLogger({ service: "cli", level: "silent" });

export interface Bus {
  readonly nc: NatsConnection;
  readonly subjects: Subjects;
}

/**
 * Connects (giving up after UPLINE_TIMEOUT_MS with BUS_UNAVAILABLE), runs `fn`,
 * then drains the connection whatever `fn` did.
 */
export async function withBus<T>(config: CliConfig, fn: (bus: Bus) => Promise<T>): Promise<T> {
  const nc = await connectBus(config, {
    name: "upline-cli",
    logger: quiet,
    firstConnectTimeoutMs: config.UPLINE_TIMEOUT_MS,
    waitOnFirstConnect: false,
  });
  try {
    return await fn({ nc, subjects: createSubjects(config.UPLINE_NAMESPACE ?? "") });
  } finally {
    await nc.drain().catch(() => undefined);
  }
}
