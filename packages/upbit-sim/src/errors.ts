/** Errors thrown by the simulator's own API (not Upbit wire errors, which are responses). */
export const SimErrorCode = {
  DuplicateKey: "SIM_DUPLICATE_KEY",
  BadMarket: "SIM_BAD_MARKET",
  BadPort: "SIM_BAD_PORT",
  UnknownMarket: "SIM_UNKNOWN_MARKET",
  UnknownAccount: "SIM_UNKNOWN_ACCOUNT",
} as const;
export type SimErrorCode = (typeof SimErrorCode)[keyof typeof SimErrorCode];

/** A misuse of the simulator (bad options, unknown market in an admin call). Not retryable. */
export class SimConfigError extends Error {
  readonly code: SimErrorCode;
  readonly classification = "non_retryable" as const;

  constructor(code: SimErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "SimConfigError";
    this.code = code;
  }
}
