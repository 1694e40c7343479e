/**
 * Upbit's order endpoints named by meaning (upbit-api.md §2.2). Two halves:
 * `orderRequests.*` describe a call (method, path, group and the params or body
 * to sign), and {@link createOrderApi} sends a call with the grant the signer
 * returned for that description and parses the answer.
 */
import { z } from "zod";
import type { CallOptions, HttpMethod, RestClient, SignedGrant } from "./client.ts";

const Amount = z.union([z.string(), z.number()]).transform(String);

/** An order object as Upbit answers it (amounts kept as decimal strings). */
export const UpbitOrder = z.looseObject({
  uuid: z.string(),
  side: z.enum(["bid", "ask"]),
  ord_type: z.string(),
  price: Amount.nullish(),
  state: z.string(),
  market: z.string(),
  created_at: z.string(),
  volume: Amount.nullish(),
  remaining_volume: Amount.nullish(),
  executed_volume: Amount.nullish(),
  trades_count: z.number().optional(),
  identifier: z.string().nullish(),
  time_in_force: z.string().nullish(),
});
export type UpbitOrder = z.infer<typeof UpbitOrder>;

const ORDER_STRINGS = ["uuid", "ord_type", "state", "market", "created_at"] as const;
const ORDER_AMOUNTS = ["price", "volume", "remaining_volume", "executed_volume"] as const;
/** {@link UpbitOrder}'s keys in the schema's order (zod's output order, unknown keys after them). */
const ORDER_KEYS = [
  "uuid",
  "side",
  "ord_type",
  "price",
  "state",
  "market",
  "created_at",
  "volume",
  "remaining_volume",
  "executed_volume",
  "trades_count",
  "identifier",
  "time_in_force",
] as const;
const ORDER_KEY_SET: ReadonlySet<string> = new Set(ORDER_KEYS);

/**
 * {@link UpbitOrder} by hand for the order answers on the hot path: the same
 * result as the schema's `parse` where it vouches (plain object, the same
 * type rules, amounts given as numbers turned into strings, unknown keys
 * kept), undefined for anything it is not sure of — undefined
 * means "ask zod", never "invalid". `order-parse.test.ts` holds it to the
 * schema on good, bad and generated bodies.
 */
export function fastUpbitOrder(raw: unknown): UpbitOrder | undefined {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) return undefined;
  if (Object.getPrototypeOf(raw) !== Object.prototype || Object.hasOwn(raw, "__proto__"))
    return undefined;
  const o = raw as Record<string, unknown>;
  for (const k of ORDER_STRINGS) if (typeof o[k] !== "string") return undefined;
  if (o.side !== "bid" && o.side !== "ask") return undefined;
  let numbers = false;
  for (const k of ORDER_AMOUNTS) {
    const v = o[k];
    if (typeof v === "number" && Number.isFinite(v)) numbers = true;
    else if (v !== undefined && v !== null && typeof v !== "string") return undefined;
  }
  const tc = o.trades_count;
  if (tc !== undefined && !(typeof tc === "number" && Number.isFinite(tc))) return undefined;
  for (const k of ["identifier", "time_in_force"] as const) {
    const v = o[k];
    if (v !== undefined && v !== null && typeof v !== "string") return undefined;
  }
  // Amounts already strings (Upbit's and the simulator's answers): the parsed
  // body itself (ours alone), the same entries as zod's copy.
  if (!numbers) return o as UpbitOrder;
  const out: Record<string, unknown> = {};
  for (const k of ORDER_KEYS) {
    if (!Object.hasOwn(o, k)) continue;
    const v = o[k];
    out[k] = typeof v === "number" && k !== "trades_count" ? String(v) : v;
  }
  for (const k of Object.keys(o)) if (!ORDER_KEY_SET.has(k)) out[k] = o[k];
  return out as UpbitOrder;
}

/** An order answer: the hand check first, the schema (and its error) for anything else. */
export function parseUpbitOrder(body: unknown): UpbitOrder {
  return fastUpbitOrder(body) ?? UpbitOrder.parse(body);
}

export const CancelAndNewResult = UpbitOrder.extend({
  new_order_uuid: z.string().nullish(),
  new_order_identifier: z.string().nullish(),
});
export type CancelAndNewResult = z.infer<typeof CancelAndNewResult>;

const CancelListEntry = z.looseObject({
  uuid: z.string().optional(),
  market: z.string().optional(),
  identifier: z.string().nullish(),
});
/** `DELETE /v1/orders/uuids` and `DELETE /v1/orders/open`. */
export const CancelManyResult = z.looseObject({
  success: z.looseObject({ count: z.number(), orders: z.array(CancelListEntry) }),
  failed: z.looseObject({ count: z.number(), orders: z.array(CancelListEntry) }),
});
export type CancelManyResult = z.infer<typeof CancelManyResult>;

/** One call, described for signing: the signer hashes exactly these params or this body. */
export interface ExchangeCall {
  readonly method: HttpMethod;
  readonly path: string;
  readonly group: string;
  readonly params?: readonly (readonly [string, string])[];
  readonly body?: Readonly<Record<string, string>>;
}

export interface NewOrder {
  readonly market: string;
  readonly side: "bid" | "ask";
  readonly ord_type: "limit" | "price" | "market" | "best";
  readonly price?: string | undefined;
  readonly volume?: string | undefined;
  readonly time_in_force?: string | undefined;
  readonly identifier: string;
}

export interface ReplaceOrder {
  readonly new_ord_type: string;
  readonly new_price?: string | undefined;
  readonly new_volume?: string | undefined;
  readonly new_time_in_force?: string | undefined;
  readonly new_identifier: string;
}

export type OrderKey = { readonly uuid: string } | { readonly identifier: string };

const defined = (o: Record<string, string | undefined>): Record<string, string> => {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(o)) if (v !== undefined) out[k] = v;
  return out;
};

const keyParam = (key: OrderKey): [string, string] =>
  "uuid" in key ? ["uuid", key.uuid] : ["identifier", key.identifier];

/** Descriptions of the order calls, ready to be signed. */
export const orderRequests = {
  submitOrder: (o: NewOrder): ExchangeCall => ({
    method: "POST",
    path: "/v1/orders",
    group: "order",
    body: defined({
      market: o.market,
      side: o.side,
      ord_type: o.ord_type,
      price: o.price,
      volume: o.volume,
      time_in_force: o.time_in_force,
      identifier: o.identifier,
    }),
  }),
  getOrder: (key: OrderKey): ExchangeCall => ({
    method: "GET",
    path: "/v1/order",
    group: "default",
    params: [keyParam(key)],
  }),
  cancelOrder: (key: OrderKey): ExchangeCall => ({
    method: "DELETE",
    path: "/v1/order",
    group: "default",
    params: [keyParam(key)],
  }),
  cancelOrdersByIds: (
    ids: { readonly uuids: readonly string[] } | { readonly identifiers: readonly string[] },
  ): ExchangeCall => ({
    method: "DELETE",
    path: "/v1/orders/uuids",
    group: "default",
    params:
      "uuids" in ids
        ? ids.uuids.map((u) => ["uuids[]", u] as const)
        : ids.identifiers.map((u) => ["identifiers[]", u] as const),
  }),
  cancelAllOpen: (
    filter: { readonly market?: string; readonly side?: "bid" | "ask" } = {},
  ): ExchangeCall => ({
    method: "DELETE",
    path: "/v1/orders/open",
    group: "order-cancel-all",
    params: [
      ["cancel_side", filter.side ?? "all"],
      ...(filter.market === undefined ? [] : [["pairs", filter.market] as const]),
      ["count", "300"],
    ],
  }),
  listOpenOrders: (page = 1, market?: string): ExchangeCall => ({
    method: "GET",
    path: "/v1/orders/open",
    group: "default",
    params: [
      ...(market === undefined ? [] : [["market", market] as const]),
      ["states[]", "wait"],
      ["states[]", "watch"],
      ["page", String(page)],
      ["limit", "100"],
    ],
  }),
  cancelAndNew: (prev: OrderKey, next: ReplaceOrder): ExchangeCall => ({
    method: "POST",
    path: "/v1/orders/cancel_and_new",
    group: "order",
    body: defined({
      ...("uuid" in prev
        ? { prev_order_uuid: prev.uuid }
        : { prev_order_identifier: prev.identifier }),
      new_ord_type: next.new_ord_type,
      new_price: next.new_price,
      new_volume: next.new_volume,
      new_time_in_force: next.new_time_in_force,
      new_identifier: next.new_identifier,
    }),
  }),
} as const;

export interface OrderApi {
  readonly submitOrder: (grant: SignedGrant, options?: CallOptions) => Promise<UpbitOrder>;
  /** The order with that identifier (or uuid); rejects UPBIT_REST_REJECTED `order_not_found` when absent. */
  readonly getOrder: (
    key: OrderKey,
    grant: SignedGrant,
    options?: CallOptions,
  ) => Promise<UpbitOrder>;
  readonly getOrderByIdentifier: (
    identifier: string,
    grant: SignedGrant,
    options?: CallOptions,
  ) => Promise<UpbitOrder>;
  readonly cancelOrder: (
    key: OrderKey,
    grant: SignedGrant,
    options?: CallOptions,
  ) => Promise<UpbitOrder>;
  readonly cancelOrdersByIds: (
    grant: SignedGrant,
    options?: CallOptions,
  ) => Promise<CancelManyResult>;
  readonly cancelAllOpen: (grant: SignedGrant, options?: CallOptions) => Promise<CancelManyResult>;
  readonly listOpenOrders: (grant: SignedGrant, options?: CallOptions) => Promise<UpbitOrder[]>;
  readonly cancelAndNew: (grant: SignedGrant, options?: CallOptions) => Promise<CancelAndNewResult>;
}

/** The order endpoints over a {@link RestClient}; each takes the grant for its `orderRequests` description. */
export function createOrderApi(rest: RestClient): OrderApi {
  const parse = <S extends z.ZodType>(schema: S, body: unknown): z.output<S> => schema.parse(body);
  const getOrder: OrderApi["getOrder"] = async (_key, grant, options) =>
    parseUpbitOrder((await rest.call("GET", "/v1/order", "default", grant, options)).body);
  return {
    submitOrder: async (grant, options) =>
      parseUpbitOrder((await rest.call("POST", "/v1/orders", "order", grant, options)).body),
    getOrder,
    getOrderByIdentifier: (identifier, grant, options) => getOrder({ identifier }, grant, options),
    cancelOrder: async (_key, grant, options) =>
      parseUpbitOrder((await rest.call("DELETE", "/v1/order", "default", grant, options)).body),
    cancelOrdersByIds: async (grant, options) =>
      parse(
        CancelManyResult,
        (await rest.call("DELETE", "/v1/orders/uuids", "default", grant, options)).body,
      ),
    cancelAllOpen: async (grant, options) =>
      parse(
        CancelManyResult,
        (await rest.call("DELETE", "/v1/orders/open", "order-cancel-all", grant, options)).body,
      ),
    listOpenOrders: async (grant, options) =>
      parse(
        z.array(UpbitOrder),
        (await rest.call("GET", "/v1/orders/open", "default", grant, options)).body,
      ),
    cancelAndNew: async (grant, options) =>
      parse(
        CancelAndNewResult,
        (await rest.call("POST", "/v1/orders/cancel_and_new", "order", grant, options)).body,
      ),
  };
}

/** Tick sizes from `GET /v1/orderbook/instruments` (public, group `orderbook`). */
export const Instrument = z.looseObject({
  market: z.string(),
  quote_currency: z.string(),
  tick_size: Amount,
});
export type Instrument = z.infer<typeof Instrument>;

export async function getInstruments(
  rest: RestClient,
  markets: readonly string[],
  options?: CallOptions,
): Promise<Instrument[]> {
  const query = `markets=${markets.map(encodeURIComponent).join(",")}`;
  const res = await rest.call(
    "GET",
    "/v1/orderbook/instruments",
    "orderbook",
    { authorization: "", url_query: query },
    options,
  );
  return z.array(Instrument).parse(res.body);
}
