/**
 * Front door of @upline/upbit-sim: a faithful local Upbit (REST, public and
 * private WebSocket, JWT auth, rate limits, matching engine, faults).
 */
export { canonicalBody, canonicalQuery, signJwt } from "./auth.ts";
export { SimConfigError, SimErrorCode } from "./errors.ts";
export { DEFAULT_MARKETS, startSim } from "./sim.ts";
export type {
  RateGroupLimit,
  RateLimitOptions,
  Sim,
  SimAccount,
  SimAdmin,
  SimCounters,
  SimFaults,
  SimFill,
  SimMarketSpec,
  SimOptions,
  SimOrderView,
  SimTrade,
} from "./types.ts";
export { Scope } from "./types.ts";
