#!/usr/bin/env node
/**
 * `upline`: the operator's command line. Wiring only: starts telemetry (exported
 * when OTEL_EXPORTER_OTLP_ENDPOINT is set, so an order's trace starts here),
 * hands argv, stdout, stderr, the environment and a stop signal to the router.
 *   node packages/cli/src/main.ts order place --market KRW-BTC --side bid --price 90000000 --volume 0.0001
 */
import { startTelemetry } from "@upline/shared";
import { runCli } from "./cli.ts";

const stop = new AbortController();
process.once("SIGINT", () => stop.abort());
process.once("SIGTERM", () => stop.abort());

const endpoint = process.env.OTEL_EXPORTER_OTLP_ENDPOINT;
const telemetry = startTelemetry({ service: "cli", ...(endpoint ? { endpoint } : {}) });

const code = await runCli(process.argv.slice(2), {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
  env: process.env,
  signal: stop.signal,
  isTty: process.stdout.isTTY === true,
});
await telemetry.shutdown();
process.exitCode = code;
