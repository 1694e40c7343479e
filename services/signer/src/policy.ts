/**
 * The signer's policy decision: given a verified request, the caller's policy,
 * the key and the kill-switch state, grant or deny with a code. Pure.
 */
import type { TradingState } from "@upline/shared";
import type { CallerPolicy } from "./callers.ts";
import type { BodyValue, ParamPair } from "./canonical.ts";
import { cmp, type Dec, mul, parseDecimal } from "./decimal.ts";
import { deny } from "./errors.ts";
import type { ExchangeKey } from "./keys.ts";

export type Method = "GET" | "POST" | "DELETE" | "WS";

export interface SignIntent {
  readonly method: Method;
  readonly path: string;
  readonly params?: readonly ParamPair[] | undefined;
  readonly body?: Readonly<Record<string, BodyValue>> | undefined;
}

/** Withdrawal, deposit and key-management endpoints. */
const SENSITIVE = /^\/v1\/(withdraws?|deposits?|api_keys|travel_rule)(\/|$)/;

export function isSensitive(path: string): boolean {
  return SENSITIVE.test(path);
}

/** Cancels stay allowed under every trading state. */
const CANCELS = new Set(["DELETE /v1/order", "DELETE /v1/orders/uuids", "DELETE /v1/orders/open"]);
const NEW_ORDERS = new Set(["POST /v1/orders", "POST /v1/orders/test"]);

/** Throws the denial for a request the caller's policy or the kill switch forbids. */
export function checkPolicy(
  intent: SignIntent,
  caller: CallerPolicy,
  key: ExchangeKey,
  trading: TradingState,
): void {
  const endpoint = `${intent.method} ${intent.path}`;
  if (!caller.endpoints.has(endpoint))
    throw deny("SIGNER_ENDPOINT_NOT_ALLOWED", `${endpoint} is not allowed for caller ${caller.id}`);
  if (isSensitive(intent.path) && !key.sensitiveEndpoints.has(endpoint))
    throw deny(
      "SIGNER_ENDPOINT_NOT_ALLOWED",
      `${endpoint} is a withdrawal/deposit/key endpoint not allowed by key ${key.keyId}'s file`,
    );
  checkTrading(intent, endpoint, trading);
  checkLimits(intent, caller);
}

function field(intent: SignIntent, name: string): string | undefined {
  if (intent.body !== undefined) {
    const v = intent.body[name];
    return typeof v === "string" ? v : typeof v === "number" ? String(v) : undefined;
  }
  return intent.params?.find(([k]) => k === name)?.[1];
}

function checkTrading(intent: SignIntent, endpoint: string, trading: TradingState): void {
  if (trading === "active") return;
  if (intent.method === "GET" || intent.method === "WS" || CANCELS.has(endpoint)) return;
  if (trading === "halted")
    throw deny("SIGNER_TRADING_HALTED", `trading is halted: only cancels and reads are signed`);
  // reducing: no new buys; a replace keeps an unknown side, so it is refused too.
  if (NEW_ORDERS.has(endpoint) && field(intent, "side") === "ask") return;
  throw deny("SIGNER_TRADING_HALTED", `trading is reducing: ${endpoint} could add exposure`);
}

function checkLimits(intent: SignIntent, caller: CallerPolicy): void {
  if (caller.markets !== undefined) {
    const allowed = caller.markets;
    // Every market named by a `market`, `markets` or `markets[]` string (comma lists split).
    const check = (k: string, v: unknown) => {
      if (typeof v !== "string" || (k !== "market" && k !== "markets" && k !== "markets[]")) return;
      for (const m of v.split(","))
        if (!allowed.has(m))
          throw deny(
            "SIGNER_PARAMS_OVER_LIMIT",
            `market ${m.slice(0, 32)} is not in caller ${caller.id}'s allow-list`,
          );
    };
    if (intent.body !== undefined) for (const k in intent.body) check(k, intent.body[k]);
    else for (const [k, v] of intent.params ?? []) check(k, v);
  }
  const endpoint = `${intent.method} ${intent.path}`;
  if (!NEW_ORDERS.has(endpoint) && endpoint !== "POST /v1/orders/cancel_and_new") return;
  const prefix = endpoint === "POST /v1/orders/cancel_and_new" ? "new_" : "";
  const ordType = field(intent, `${prefix}ord_type`);
  const price = decimalField(intent, `${prefix}price`);
  const volume = decimalField(intent, `${prefix}volume`);
  let total = ordType === "limit" && price && volume ? mul(price, volume) : undefined;
  if (ordType === "price" || (ordType === "best" && field(intent, "side") === "bid")) total = price;
  if (caller.maxOrderTotal !== undefined) {
    const max = policyDecimal(caller.maxOrderTotal);
    if (total === undefined && volume === undefined)
      throw deny("SIGNER_PARAMS_OVER_LIMIT", "the order's total cannot be bounded");
    if (total !== undefined && max && cmp(total, max) > 0)
      throw deny("SIGNER_PARAMS_OVER_LIMIT", `order total exceeds ${caller.maxOrderTotal}`);
  }
  if (
    total === undefined &&
    volume !== undefined &&
    (caller.maxOrderVolume !== undefined || caller.maxOrderTotal !== undefined)
  ) {
    const max =
      caller.maxOrderVolume === undefined ? undefined : policyDecimal(caller.maxOrderVolume);
    if (max === undefined)
      throw deny(
        "SIGNER_PARAMS_OVER_LIMIT",
        "volume-only orders need max_order_volume in the caller's policy",
      );
    if (cmp(volume, max) > 0)
      throw deny("SIGNER_PARAMS_OVER_LIMIT", `order volume exceeds ${caller.maxOrderVolume}`);
  }
}

// The callers file's limits, parsed once per distinct text (a handful per file; bounded anyway).
const limits = new Map<string, Dec | undefined>();
function policyDecimal(text: string): Dec | undefined {
  if (limits.has(text)) return limits.get(text);
  if (limits.size >= 4096) limits.clear();
  const d = parseDecimal(text);
  limits.set(text, d);
  return d;
}

function decimalField(intent: SignIntent, name: string) {
  const text = field(intent, name);
  if (text === undefined) return undefined;
  const d = parseDecimal(text);
  if (d === undefined) throw deny("SIGNER_PARAMS_INVALID", `${name} must be a decimal string`);
  return d;
}
