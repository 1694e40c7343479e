/**
 * The signer's denials: every refusal carries one code from this closed set
 * (registered in @upline/shared's ErrorCodes and docs/errors.md).
 */
import { UplineError } from "@upline/shared";

export const Denial = {
  UnknownCaller: "SIGNER_UNKNOWN_CALLER",
  BadSignature: "SIGNER_BAD_SIGNATURE",
  Expired: "SIGNER_EXPIRED",
  Replayed: "SIGNER_REPLAYED",
  KeyNotAllowed: "SIGNER_KEY_NOT_ALLOWED",
  EndpointNotAllowed: "SIGNER_ENDPOINT_NOT_ALLOWED",
  ParamsInvalid: "SIGNER_PARAMS_INVALID",
  ParamsOverLimit: "SIGNER_PARAMS_OVER_LIMIT",
  TradingHalted: "SIGNER_TRADING_HALTED",
  NotAdmin: "SIGNER_NOT_ADMIN",
  SessionUnknown: "SIGNER_SESSION_UNKNOWN",
  Unavailable: "SIGNER_UNAVAILABLE",
} as const;
export type Denial = (typeof Denial)[keyof typeof Denial];

/** Builds the typed error for a denial. Messages never carry secrets or tokens. */
export function deny(code: Denial, message: string): UplineError {
  return new UplineError(code, message);
}

/** A key or callers file that cannot be used; `path` is named, content never. */
export function fileInvalid(path: string, reason: string, cause?: unknown): UplineError {
  return new UplineError("SIGNER_KEY_FILE_INVALID", `${path}: ${reason}`, {
    cause,
    details: { path },
  });
}
