/**
 * Typed errors with stable string codes. Every code upline can produce is listed
 * in {@link ErrorCodes} with its retry class; `docs/errors.md` mirrors this table
 * (a unit test keeps the two in step). Over NATS an error travels as
 * `{ code, message }` and is rebuilt with {@link UplineError.fromWire}.
 */

/** How a caller should react to an error. */
export const RetryClass = {
  /** Transient: the same request may succeed later (with backoff). */
  Retryable: "retryable",
  /** The request itself is wrong or was refused: do not repeat it unchanged. */
  NonRetryable: "non_retryable",
  /** The process cannot continue (bad configuration, broken invariant). */
  Fatal: "fatal",
} as const;
export type RetryClass = (typeof RetryClass)[keyof typeof RetryClass];

interface CodeSpec {
  readonly retry: RetryClass;
  readonly summary: string;
}

/** The closed set of error codes. Add a code here and to docs/errors.md together. */
export const ErrorCodes = {
  CONFIG_INVALID: { retry: "fatal", summary: "an environment variable is missing or malformed" },
  MESSAGE_DECODE: { retry: "non_retryable", summary: "a message body is not valid JSON" },
  MESSAGE_INVALID: {
    retry: "non_retryable",
    summary: "a message does not match its schema (wrong type, unknown or missing field)",
  },
  MESSAGE_TOO_LARGE: {
    retry: "non_retryable",
    summary: "a message exceeds the size accepted on its subject",
  },
  BUS_TIMEOUT: { retry: "retryable", summary: "a NATS request got no reply in time" },
  BUS_NO_RESPONDERS: {
    retry: "retryable",
    summary: "nobody serves the requested subject (the service is down or not ready)",
  },
  BUS_UNAVAILABLE: {
    retry: "retryable",
    summary: "the NATS connection is closed, draining or cannot be established",
  },
  BUS_PERMISSION: {
    retry: "fatal",
    summary: "the NATS server refused a publish or subscribe for this user",
  },
  PUBLISH_NOT_ACKED: {
    retry: "retryable",
    summary: "JetStream did not acknowledge a publish (stream full, unavailable or timed out)",
  },
  STREAM_CONFLICT: {
    retry: "fatal",
    summary: "an existing stream or bucket has settings that cannot be reconciled with ours",
  },
  INTERNAL: { retry: "non_retryable", summary: "an unexpected failure inside a service" },
  // audit
  AUDIT_STORE_UNAVAILABLE: {
    retry: "retryable",
    summary: "the audit database cannot be reached or refused a write",
  },
  AUDIT_APPEND_ONLY: {
    retry: "non_retryable",
    summary: "an UPDATE, DELETE or TRUNCATE of stored audit rows was refused",
  },
  AUDIT_CHAIN_BROKEN: {
    retry: "non_retryable",
    summary: "the audit hash chain or a signed checkpoint does not verify",
  },
  AUDIT_KEY_INVALID: {
    retry: "fatal",
    summary: "the audit checkpoint signing key file is missing or not an Ed25519 JWK",
  },
  // signer
  SIGNER_UNKNOWN_CALLER: {
    retry: "non_retryable",
    summary: "the sign request's issuer is not a configured signer caller",
  },
  SIGNER_BAD_SIGNATURE: {
    retry: "non_retryable",
    summary: "the sign request's JWS is malformed or its signature does not verify",
  },
  SIGNER_EXPIRED: {
    retry: "non_retryable",
    summary: "the sign request is expired, not yet valid, or lives longer than 10 s",
  },
  SIGNER_REPLAYED: {
    retry: "non_retryable",
    summary: "the sign request's jti was already used within its validity window",
  },
  SIGNER_KEY_NOT_ALLOWED: {
    retry: "non_retryable",
    summary: "the key id is unknown, revoked, expired or not allowed for this caller",
  },
  SIGNER_ENDPOINT_NOT_ALLOWED: {
    retry: "non_retryable",
    summary: "the (method, path) is not allowed for this caller or this key",
  },
  SIGNER_PARAMS_INVALID: {
    retry: "non_retryable",
    summary: "the request's params or body cannot be put in canonical form",
  },
  SIGNER_PARAMS_OVER_LIMIT: {
    retry: "non_retryable",
    summary: "a market outside the caller's allow-list or an order over its limits",
  },
  SIGNER_TRADING_HALTED: {
    retry: "non_retryable",
    summary: "the kill switch (KV control/trading) forbids this request now",
  },
  SIGNER_NOT_ADMIN: {
    retry: "non_retryable",
    summary: "a signer admin operation was asked by a caller without the admin flag",
  },
  SIGNER_SESSION_UNKNOWN: {
    retry: "retryable",
    summary: "the sealing session is unknown to this signer replica or has expired",
  },
  SIGNER_UNAVAILABLE: {
    retry: "retryable",
    summary: "the signer cannot grant now (audit not acknowledged, overloaded, or not ready)",
  },
  SIGNER_KEY_FILE_INVALID: {
    retry: "fatal",
    summary: "a signer key or callers file is unreadable, malformed, or readable by group/others",
  },
  // market-feed (and the Upbit WebSocket / quotation client it uses)
  UPBIT_FRAME_INVALID: {
    retry: "non_retryable",
    summary: "an Upbit WebSocket frame is not valid JSON or does not match its data type",
  },
  UPBIT_WS_ERROR: {
    retry: "non_retryable",
    summary: "Upbit answered a WebSocket request with an error message (WRONG_FORMAT, NO_CODES, …)",
  },
  UPBIT_WS_UNAVAILABLE: {
    retry: "retryable",
    summary: "the Upbit WebSocket cannot be connected, was closed, or stalled",
  },
  UPBIT_QUOTATION_RATE_LIMITED: {
    retry: "retryable",
    summary: "Upbit answered a public quotation request with 429 or 418",
  },
  UPBIT_QUOTATION_FAILED: {
    retry: "retryable",
    summary: "a public quotation request failed (network fault, 5xx, or an unreadable body)",
  },
  UPBIT_QUOTATION_REJECTED: {
    retry: "non_retryable",
    summary: "Upbit refused a public quotation request (4xx other than 429/418)",
  },
  FEED_NO_MARKETS: {
    retry: "fatal",
    summary: "market-feed's configuration selects no market to publish",
  },
  // order-exec (and the Upbit REST client and rate governor it uses)
  UPBIT_REST_REJECTED: {
    retry: "non_retryable",
    summary: "Upbit refused an exchange request with a 4xx (its error.name is kept)",
  },
  UPBIT_REST_UNAVAILABLE: {
    retry: "retryable",
    summary:
      "an exchange request failed with 5xx, a timeout or a reset: for an order, the outcome is unknown",
  },
  UPBIT_AUTH_FAILED: {
    retry: "fatal",
    summary: "Upbit refused the key itself (expired, unknown, IP not allowed, missing scope)",
  },
  UPBIT_RATE_LIMITED: {
    retry: "retryable",
    summary: "Upbit answered 429, or the rate governor could not grant a slot in time",
  },
  UPBIT_BANNED: {
    retry: "non_retryable",
    summary: "Upbit answered 418: every exchange call is stopped until the ban ends",
  },
  ORDER_EXPIRED: { retry: "non_retryable", summary: "the order intent's expires_at has passed" },
  ORDER_TRADING_HALTED: {
    retry: "non_retryable",
    summary: "the kill switch is halted (cancels and reads only) or reducing (no new buys)",
  },
  ORDER_MARKET_NOT_ALLOWED: {
    retry: "non_retryable",
    summary: "the market is not in order-exec's allow-list or not listed on the exchange",
  },
  ORDER_PRICE_OFF_TICK: {
    retry: "non_retryable",
    summary: "a limit price is not a multiple of the market's tick size",
  },
  ORDER_TOTAL_TOO_SMALL: {
    retry: "non_retryable",
    summary: "the order total is below the market's minimum order total",
  },
  ORDER_TOTAL_TOO_LARGE: {
    retry: "non_retryable",
    summary: "the order total is above the maximum order total or the market's notional limit",
  },
  ORDER_RATE_CAPPED: {
    retry: "retryable",
    summary: "order-exec's own order-rate cap refused the intent",
  },
  ORDER_AUDIT_UNAVAILABLE: {
    retry: "retryable",
    summary: "the audit record could not be acknowledged by JetStream, so nothing was sent",
  },
  ORDER_NOT_FOUND: {
    retry: "non_retryable",
    summary: "no order with that uuid or client_order_id is known here or on the exchange",
  },
  ORDER_ACCOUNT_UNKNOWN: {
    retry: "non_retryable",
    summary: "the intent names an account order-exec has no exchange key for",
  },
} as const satisfies Record<string, CodeSpec>;

export type ErrorCode = keyof typeof ErrorCodes;

/** The shape an error takes on the wire. */
export interface WireError {
  readonly code: string;
  readonly message: string;
}

export function isErrorCode(code: string): code is ErrorCode {
  return Object.hasOwn(ErrorCodes, code);
}

export interface UplineErrorOptions {
  readonly cause?: unknown;
  /** Structured, non-secret detail for logs and audit (never the secret itself). */
  readonly details?: Readonly<Record<string, unknown>>;
}

/**
 * The one error type upline services throw across module boundaries. Callers
 * match on `code`, never on `message`.
 */
export class UplineError extends Error {
  override readonly name = "UplineError";
  readonly code: ErrorCode;
  readonly retry: RetryClass;
  readonly details: Readonly<Record<string, unknown>> | undefined;

  constructor(code: ErrorCode, message: string, options: UplineErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.retry = ErrorCodes[code].retry;
    this.details = options.details;
  }

  get retryable(): boolean {
    return this.retry === RetryClass.Retryable;
  }

  toWire(): WireError {
    return { code: this.code, message: this.message };
  }

  /** Rebuilds an error received from another service. Unknown codes become INTERNAL. */
  static fromWire(wire: WireError): UplineError {
    if (isErrorCode(wire.code)) return new UplineError(wire.code, wire.message);
    return new UplineError("INTERNAL", `remote error ${wire.code}: ${wire.message}`);
  }
}

export function isUplineError(err: unknown, code?: ErrorCode): err is UplineError {
  return err instanceof UplineError && (code === undefined || err.code === code);
}
