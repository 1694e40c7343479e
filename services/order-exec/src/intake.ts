/**
 * The hand check of `orders.v1.place` requests, given to `serve()` as its
 * `fastCheck` (with `spans: "traced"`, no span without trace context): the
 * hot path skips zod for the plain intents strategies send. It vouches only
 * for intents it can check completely; everything else — any doubt,
 * `expires_at`, a bad field — goes to zod's `OrderIntent`, whose verdict and
 * error text are the contract. So it may only ever say "valid" where zod
 * does; `intake.test.ts` checks that on good, bad and generated inputs.
 */
import { isMarketCode, type OrderIntent } from "@upline/shared";

const CLIENT_ORDER_ID = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$/;
const ACCOUNT_ID = /^[a-z0-9][a-z0-9_-]{0,63}$/;
const DECIMAL = /^(0|[1-9][0-9]*)(\.[0-9]+)?$/;

const isDecimal = (v: unknown): v is string => typeof v === "string" && DECIMAL.test(v);

/**
 * `raw` as an OrderIntent when a hand check proves it one (same fields, same
 * rules as the schema's `superRefine`), else undefined — undefined means "ask
 * zod", never "invalid". Intents with `expires_at` are left to zod (ISO 8601
 * with offset is not worth re-implementing).
 */
export function fastOrderIntent(raw: unknown): OrderIntent | undefined {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) return undefined;
  if (Object.getPrototypeOf(raw) !== Object.prototype) return undefined;
  const o = raw as Record<string, unknown>;
  let n = 0;
  for (const k in o) {
    if (!Object.hasOwn(o, k)) return undefined;
    switch (k) {
      case "client_order_id":
      case "account":
      case "market":
      case "side":
      case "ord_type":
      case "price":
      case "volume":
      case "time_in_force":
        n++;
        break;
      default:
        return undefined;
    }
  }
  if (Object.keys(o).length !== n) return undefined;
  const { client_order_id, account, market, side, ord_type, price, volume, time_in_force } = o;
  if (typeof client_order_id !== "string" || !CLIENT_ORDER_ID.test(client_order_id))
    return undefined;
  if (typeof account !== "string" || !ACCOUNT_ID.test(account)) return undefined;
  if (typeof market !== "string" || !isMarketCode(market)) return undefined;
  if (side !== "bid" && side !== "ask") return undefined;
  if (price !== undefined && !isDecimal(price)) return undefined;
  if (volume !== undefined && !isDecimal(volume)) return undefined;
  if (
    time_in_force !== undefined &&
    time_in_force !== "ioc" &&
    time_in_force !== "fok" &&
    time_in_force !== "post_only"
  )
    return undefined;
  const hasPrice = price !== undefined;
  const hasVolume = volume !== undefined;
  switch (ord_type) {
    case "limit":
      if (!hasPrice || !hasVolume) return undefined;
      break;
    case "price":
      if (side !== "bid" || !hasPrice || hasVolume) return undefined;
      break;
    case "market":
      if (side !== "ask" || !hasVolume || hasPrice) return undefined;
      break;
    case "best":
      if (time_in_force !== "ioc" && time_in_force !== "fok") return undefined;
      if (hasPrice !== (side === "bid") || hasVolume !== (side === "ask")) return undefined;
      break;
    default:
      return undefined;
  }
  if (time_in_force === "post_only" && ord_type !== "limit") return undefined;
  return o as OrderIntent;
}
