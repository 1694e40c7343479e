#!/usr/bin/env node
/**
 * `upline`: the operator's command line. Wiring only: hands argv, stdout,
 * stderr, the environment and a stop signal to the router.
 *   node packages/cli/src/main.ts audit verify
 */
import { runCli } from "./cli.ts";

const stop = new AbortController();
process.once("SIGINT", () => stop.abort());
process.once("SIGTERM", () => stop.abort());

const code = await runCli(process.argv.slice(2), {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
  env: process.env,
  signal: stop.signal,
});
process.exitCode = code;
