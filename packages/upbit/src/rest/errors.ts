/**
 * What an Upbit REST response or a transport failure means for the caller
 * (upbit-api.md §4): retryable (5xx, network faults, 429), non-retryable (4xx,
 * with Upbit's `error.name` kept), fatal (the key itself is refused). A 418 is
 * its own case: every exchange call stops until the ban ends.
 */
import { type ErrorCode, UplineError } from "@upline/shared";

/** Upbit error names that mean the key cannot be used at all (operator action). */
const KEY_REFUSED = new Set([
  "expired_access_key",
  "invalid_access_key",
  "no_authorization_ip",
  "no_authorization_i_p",
  "out_of_scope",
]);

export interface UpbitRestErrorInfo {
  /** HTTP status, when a response arrived. */
  readonly status?: number;
  /** Upbit's `error.name` (string for exchange APIs, number for quotation). */
  readonly exchangeError?: string;
  /** 418 / 429: how long to stay away (Retry-After, or the window). */
  readonly retryAfterMs?: number;
  /**
   * True when the request may have been executed although no success was seen
   * (5xx, timeout, reset after sending). An order in that state is looked up
   * by identifier, never resent blindly.
   */
  readonly outcomeUnknown: boolean;
  /** The rate-limit group the response named (Remaining-Req), if any. */
  readonly group?: string;
}

/** A failed Upbit REST call. `code` tells the class; the fields tell the detail. */
export class UpbitRestError extends UplineError {
  readonly status: number | undefined;
  readonly exchangeError: string | undefined;
  readonly retryAfterMs: number | undefined;
  readonly outcomeUnknown: boolean;
  readonly group: string | undefined;

  constructor(code: ErrorCode, message: string, info: UpbitRestErrorInfo, cause?: unknown) {
    super(code, message, {
      ...(cause === undefined ? {} : { cause }),
      details: {
        status: info.status,
        exchange_error: info.exchangeError,
        outcome_unknown: info.outcomeUnknown,
      },
    });
    this.status = info.status;
    this.exchangeError = info.exchangeError;
    this.retryAfterMs = info.retryAfterMs;
    this.outcomeUnknown = info.outcomeUnknown;
    this.group = info.group;
  }
}

export function isUpbitRestError(err: unknown, code?: ErrorCode): err is UpbitRestError {
  return err instanceof UpbitRestError && (code === undefined || err.code === code);
}

/** `{error:{name,message}}` → name and message; tolerant of text bodies (429). */
export function parseErrorBody(text: string): { name?: string; message?: string } {
  try {
    const v = JSON.parse(text) as { error?: { name?: unknown; message?: unknown } };
    const e = v?.error;
    if (e === undefined || e === null || typeof e !== "object") return {};
    return {
      ...(e.name === undefined ? {} : { name: String(e.name) }),
      ...(typeof e.message === "string" ? { message: e.message } : {}),
    };
  } catch {
    return {};
  }
}

/** Retry-After in seconds (or an HTTP date); the 418 body's "Blocked for N seconds" as a fallback. */
export function retryAfterMs(
  header: string | undefined,
  body: string,
  nowMs: number,
): number | undefined {
  if (header !== undefined && header !== "") {
    const s = Number(header);
    if (Number.isFinite(s) && s >= 0) return Math.ceil(s * 1000);
    const at = Date.parse(header);
    if (Number.isFinite(at)) return Math.max(0, at - nowMs);
  }
  const m = /(\d+)\s*(?:seconds|초)/i.exec(body);
  return m ? Number(m[1]) * 1000 : undefined;
}

/** Classifies a non-2xx response. */
export function classifyResponse(
  status: number,
  body: string,
  headers: { readonly retryAfter?: string; readonly group?: string },
  what: string,
  nowMs: number = Date.now(),
): UpbitRestError {
  const { name, message } = parseErrorBody(body);
  const detail = `${what}: HTTP ${status}${name === undefined ? "" : ` ${name}`}${message === undefined ? "" : ` (${message})`}`;
  const base = {
    status,
    ...(name === undefined ? {} : { exchangeError: name }),
    ...(headers.group === undefined ? {} : { group: headers.group }),
  };
  if (status === 418) {
    return new UpbitRestError("UPBIT_BANNED", detail, {
      ...base,
      outcomeUnknown: false,
      retryAfterMs: retryAfterMs(headers.retryAfter, body, nowMs) ?? 60_000,
    });
  }
  if (status === 429) {
    const after = retryAfterMs(headers.retryAfter, body, nowMs);
    return new UpbitRestError("UPBIT_RATE_LIMITED", detail, {
      ...base,
      outcomeUnknown: false,
      ...(after === undefined ? {} : { retryAfterMs: after }),
    });
  }
  if (status >= 500)
    return new UpbitRestError("UPBIT_REST_UNAVAILABLE", detail, { ...base, outcomeUnknown: true });
  if (name !== undefined && KEY_REFUSED.has(name))
    return new UpbitRestError("UPBIT_AUTH_FAILED", detail, { ...base, outcomeUnknown: false });
  if (status >= 400)
    return new UpbitRestError("UPBIT_REST_REJECTED", detail, { ...base, outcomeUnknown: false });
  // 1xx/3xx: nothing Upbit sends; treat as unknown.
  return new UpbitRestError("UPBIT_REST_UNAVAILABLE", detail, { ...base, outcomeUnknown: true });
}

const NOT_SENT = new Set(["ECONNREFUSED", "UND_ERR_CONNECT_TIMEOUT", "ENOTFOUND", "EAI_AGAIN"]);

/** Classifies a transport failure (undici error codes). */
export function classifyNetworkError(err: unknown, what: string): UpbitRestError {
  if (err instanceof UpbitRestError) return err;
  const code = (err as { code?: string })?.code ?? "";
  const notSent = NOT_SENT.has(code);
  return new UpbitRestError(
    "UPBIT_REST_UNAVAILABLE",
    `${what}: ${code || (err as Error)?.message || String(err)}`,
    { outcomeUnknown: !notSent },
    err,
  );
}
