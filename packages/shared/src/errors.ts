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
