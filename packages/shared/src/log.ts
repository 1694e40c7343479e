import { trace } from "@opentelemetry/api";
import pino, { type DestinationStream, type Logger, type LoggerOptions } from "pino";

export type { Logger } from "pino";

/** Field names whose values are secrets wherever they appear (up to three levels deep). */
const SECRET_FIELDS = [
  "secret",
  "secret_key",
  "secretKey",
  "password",
  "pass",
  "token",
  "access_token",
  "bearer",
  "authorization",
  "Authorization",
  "jws",
  "jwt",
  "nkey_seed",
  "seed",
  "creds",
  "private_key",
  "privateKey",
  "d",
] as const;

/** The pino redaction paths for every secret-bearing field. */
export const REDACT_PATHS: readonly string[] = SECRET_FIELDS.flatMap((f) => [
  f,
  `*.${f}`,
  `*.*.${f}`,
  `*.*.*.${f}`,
]).concat(["headers.authorization", "*.headers.authorization", 'headers["Authorization"]']);

const BEARER = /\b(Bearer)\s+[A-Za-z0-9._~+/=-]+/gi;
/** Three base64url segments starting with a JSON header: a JWT or compact JWS. */
const COMPACT_JWS = /\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*/g;

/** Removes bearer tokens and compact JWS/JWT from free text (messages, error texts). */
export function scrubSecrets(text: string): string {
  return text.replace(BEARER, "$1 [redacted]").replace(COMPACT_JWS, "[redacted-jws]");
}

export interface CreateLoggerOptions {
  readonly service: string;
  readonly level?: string;
  /** Where lines go; stdout by default. Tests pass a stream to read the raw output. */
  readonly destination?: DestinationStream;
}

/**
 * The process's one root logger. Components take `logger.child({ component })`.
 * Secret fields are redacted by path, bearer tokens and JWS are scrubbed from
 * messages and errors, and while a span is active each line carries its
 * `trace_id` and `span_id`.
 */
export function createLogger(options: CreateLoggerOptions): Logger {
  const config: LoggerOptions = {
    name: options.service,
    level: options.level ?? "info",
    base: { service: options.service },
    redact: { paths: [...REDACT_PATHS], censor: "[redacted]" },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
    mixin() {
      const ctx = trace.getActiveSpan()?.spanContext();
      return ctx ? { trace_id: ctx.traceId, span_id: ctx.spanId } : {};
    },
    hooks: {
      logMethod(args, method) {
        for (let i = 0; i < args.length; i++) {
          const arg = args[i];
          if (typeof arg === "string") args[i] = scrubSecrets(arg);
        }
        method.apply(this, args);
      },
    },
    serializers: {
      err: serializeError,
    },
  };
  return options.destination ? pino(config, options.destination) : pino(config);
}

function serializeError(err: unknown): unknown {
  const out = pino.stdSerializers.err(err as Error) as unknown as Record<string, unknown>;
  if (typeof out.message === "string") out.message = scrubSecrets(out.message);
  if (typeof out.stack === "string") out.stack = scrubSecrets(out.stack);
  return out;
}
