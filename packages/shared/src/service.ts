/**
 * What every service's main.ts needs besides its own app: /healthz and /readyz,
 * and an ordered, idempotent stop on SIGTERM/SIGINT without process.exit.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { Logger } from "./log.ts";

export interface HealthChecks {
  /** The process works (event loop turning, not wedged). */
  readonly live: () => boolean;
  /** The service should receive work (connected, subscribed, fresh). */
  readonly ready: () => boolean;
  /** Extra detail served as JSON on both endpoints. */
  readonly detail?: () => Record<string, unknown>;
}

export interface HealthServer {
  readonly url: string;
  readonly port: number;
  readonly close: () => Promise<void>;
}

/** Serves GET /healthz and /readyz: 200 when the check passes, 503 otherwise. */
export async function startHealthServer(
  port: number,
  checks: HealthChecks,
  host = "0.0.0.0",
): Promise<HealthServer> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    const check = path === "/healthz" ? checks.live : path === "/readyz" ? checks.ready : undefined;
    if (!check || req.method !== "GET") {
      res.writeHead(404, { "content-type": "application/json" }).end('{"error":"not found"}');
      return;
    }
    const ok = check();
    res
      .writeHead(ok ? 200 : 503, { "content-type": "application/json" })
      .end(JSON.stringify({ ok, ...(checks.detail?.() ?? {}) }));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve());
  });
  const actual = (server.address() as AddressInfo).port;
  let closing: Promise<void> | undefined;
  return {
    port: actual,
    url: `http://127.0.0.1:${actual}`,
    close: () => {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closing;
    },
  };
}

export interface Stoppable {
  readonly stop: () => Promise<void>;
}

/**
 * Calls `app.stop()` once on the first SIGTERM or SIGINT and lets the process
 * end on its own. If stopping takes longer than `graceMs`, or a second signal
 * arrives, the process exits with code 1 so an orchestrator is not left waiting.
 */
export function stopOnSignals(app: Stoppable, logger: Logger, graceMs = 20_000): void {
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) {
      logger.warn({ signal }, "second signal: exiting now");
      process.exit(1);
    }
    stopping = true;
    logger.info({ signal }, "stopping");
    const timer = setTimeout(() => {
      logger.error({ graceMs }, "stop did not finish in time: exiting");
      process.exit(1);
    }, graceMs);
    timer.unref();
    app.stop().then(
      () => {
        logger.info("stopped");
        process.exitCode = 0;
      },
      (err: unknown) => {
        logger.error({ err }, "stop failed");
        process.exitCode = 1;
      },
    );
  };
  process.on("SIGTERM", onSignal);
  process.on("SIGINT", onSignal);
}
