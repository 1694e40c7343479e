/**
 * Everything the CLI prints goes through the command's {@link CliIo}; this
 * module formats it: aligned tables for people, JSON for scripts, and the hint
 * that goes with an error code.
 */
import type { ErrorCode } from "@upline/shared";
import type { CliIo } from "./cli.ts";

/** Exit codes of every command (documented in the README). */
export const ExitCode = {
  /** Done, or everything healthy. */
  Ok: 0,
  /** Refused, rejected, failed, or something unhealthy. */
  Failed: 1,
  /** Bad command line or configuration. */
  Usage: 2,
  /** NATS, a service or a health endpoint could not be reached or did not answer in time. */
  Unreachable: 3,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

const UNREACHABLE: readonly string[] = [
  "BUS_UNAVAILABLE",
  "BUS_TIMEOUT",
  "BUS_NO_RESPONDERS",
  "AUDIT_STORE_UNAVAILABLE",
];

/** The exit code for an error code. */
export function exitCodeFor(code: string): ExitCode {
  if (UNREACHABLE.includes(code)) return ExitCode.Unreachable;
  if (code === "CONFIG_INVALID") return ExitCode.Usage;
  return ExitCode.Failed;
}

const HINTS: Partial<Record<ErrorCode, string>> = {
  BUS_UNAVAILABLE:
    "is NATS running? Start the system with `pnpm start`, or point NATS_URL (and NATS_USER/NATS_CREDS_FILE) at your server.",
  BUS_NO_RESPONDERS:
    "the service that answers this request is not running or not ready: check `upline status` (and that UPLINE_NAMESPACE matches the system's).",
  BUS_TIMEOUT:
    "the service did not answer in time: check `upline status`; raise UPLINE_TIMEOUT_MS if it is only slow.",
  BUS_PERMISSION:
    "this NATS user may not use that subject: check NATS_USER / NATS_CREDS_FILE against deploy/'s permissions.",
  PUBLISH_NOT_ACKED:
    "stream AUDIT did not acknowledge the record: is the audit service running and stream AUDIT not full? See `upline status`.",
  SIGNER_UNKNOWN_CALLER:
    "the signer does not know UPLINE_OPERATOR_ID: add the operator's public key to SIGNER_CALLERS_FILE.",
  SIGNER_BAD_SIGNATURE:
    "the operator key does not match the public key in the signer's callers file: check UPLINE_OPERATOR_KEY_FILE.",
  SIGNER_NOT_ADMIN: 'the operator\'s entry in SIGNER_CALLERS_FILE needs `"admin": true`.',
  SIGNER_EXPIRED: "this machine's clock is off by more than a few seconds: sync it (NTP).",
  ORDER_TRADING_HALTED:
    "the kill switch forbids this: see `upline trading show`; `upline trading resume --reason …` lifts it.",
  ORDER_AUDIT_UNAVAILABLE:
    "order-exec cannot write audit records: check the audit service (`upline status`).",
  UPBIT_BANNED:
    "Upbit answered 418: every exchange call is stopped until the ban ends. See the operating guide before resuming.",
  AUDIT_STORE_UNAVAILABLE:
    "cannot open the audit store: with embedded PGlite, stop `pnpm start` first (PGlite is single-process), or set DATABASE_URL.",
  CONFIG_INVALID: "fix the named variables (see the README's configuration table).",
};

export function hintFor(code: string): string | undefined {
  return HINTS[code as ErrorCode];
}

/** Writes a failure as `upline: CODE: message` plus the hint; returns the exit code. */
export function fail(io: CliIo, code: string, message: string, json = false): ExitCode {
  const hint = hintFor(code);
  if (json) io.out(`${JSON.stringify({ ok: false, error: { code, message, hint } })}\n`);
  io.err(`upline: ${code}: ${message}\n${hint ? `  → ${hint}\n` : ""}`);
  return exitCodeFor(code);
}

export function printJson(io: CliIo, value: unknown): void {
  io.out(`${JSON.stringify(value)}\n`);
}

/** Left-aligned columns separated by two spaces; cells are stringified. */
export function table(rows: readonly (readonly unknown[])[]): string {
  const cells = rows.map((r) => r.map((c) => (c === undefined || c === null ? "-" : String(c))));
  const widths: number[] = [];
  for (const r of cells)
    for (const [i, c] of r.entries()) widths[i] = Math.max(widths[i] ?? 0, c.length);
  return cells
    .map((r) =>
      r
        .map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
        .join("  ")
        .trimEnd(),
    )
    .map((l) => `${l}\n`)
    .join("");
}

/** `12.3 s`, `450 ms`. */
export function ago(ms: number): string {
  if (ms < 1_000) return `${Math.round(ms)} ms`;
  if (ms < 120_000) return `${(ms / 1000).toFixed(1)} s`;
  return `${Math.round(ms / 60_000)} min`;
}
