export type { OrderExec, OrderExecDeps, OrderExecSettings, SignFn } from "./app.ts";
export { buildOrderExec } from "./app.ts";
export type { ClaimRecord, ClaimResult, Claims } from "./claims.ts";
export { ClaimState, claimKey, createClaims } from "./claims.ts";
export { coalesceWrites } from "./coalesce.ts";
export type { Config } from "./config.ts";
export { CONFIG_PREFIX, configSchema } from "./config.ts";
export { SIGNER_ENDPOINTS } from "./endpoints.ts";
export type {
  ExchangeCallSigner,
  ExecDeps,
  ExecSettings,
  Executor,
  RecoveredClaim,
} from "./exec.ts";
export { createExecutor } from "./exec.ts";
export { eventFromMyOrder, reconciledEvent } from "./my-order.ts";
export type { PrivateFeed, PrivateFeedOptions } from "./private-feed.ts";
export { createPrivateFeed } from "./private-feed.ts";
export type { KvGovernorStore } from "./rate-store.ts";
export { createKvGovernorStore } from "./rate-store.ts";
export type { Recovery, RecoveryOptions } from "./recover.ts";
export { createRecovery, parseClaimKey } from "./recover.ts";
export type { MarketRules, RateCapState, RiskContext, RiskLimits } from "./risk.ts";
export { checkIntent, DEFAULT_MAX_TOTAL, DEFAULT_MIN_TOTAL, orderTotal, rateCap } from "./risk.ts";
