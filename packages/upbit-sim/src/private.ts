/** Exchange (private) REST handlers; auth and rate limiting happen before these run. */
import {
  type Account,
  type ApiError,
  apiError,
  type Exchange,
  type OrderRequest,
} from "./exchange.ts";
import type { Order } from "./market.ts";
import type { Params } from "./params.ts";
import type { Reply } from "./quotation.ts";
import { orderChance, restAccounts, restOrder } from "./views.ts";

export type PrivateResult = Reply | ApiError;

export interface PrivateRequest {
  readonly ex: Exchange;
  readonly acc: Account;
  readonly params: Params;
  readonly body: Record<string, unknown> | null;
}

const INVALID = (msg = "잘못된 파라미터") => apiError(400, "invalid_parameter", msg);
const NOT_FOUND = () => apiError(404, "order_not_found", "주문을 찾지 못했습니다.");

function ok(body: unknown, status = 200): Reply {
  return { status, body };
}

export function accounts({ acc }: PrivateRequest): PrivateResult {
  return ok(restAccounts(acc));
}

export function chance({ ex, acc, params }: PrivateRequest): PrivateResult {
  const code = params.get("market");
  if (code === undefined || code === "")
    return apiError(400, "validation_error", "market is missing");
  const m = ex.markets.get(code);
  if (m === undefined)
    return apiError(400, "notfoundmarket", `다음 마켓에 없는 종목입니다: ${code}`);
  return ok(orderChance(ex, acc, m));
}

export function createOrder({ ex, acc, body }: PrivateRequest): PrivateResult {
  if (body === null) return INVALID();
  const v = ex.validate(acc, body as OrderRequest, false);
  if ("status" in v) return v;
  const { snapshot } = ex.place(acc, v);
  return ok(restOrder(snapshot, false), 201);
}

export function testOrder({ ex, acc, body }: PrivateRequest): PrivateResult {
  if (body === null) return INVALID();
  const v = ex.validate(acc, body as OrderRequest, true);
  if ("status" in v) return v;
  return ok(restOrder(ex.testOrder(acc, v), false), 201);
}

export function getOrder({ ex, acc, params }: PrivateRequest): PrivateResult {
  const uuid = params.get("uuid");
  const identifier = params.get("identifier");
  if (uuid === undefined && identifier === undefined)
    return INVALID("uuid 또는 identifier 중 하나가 필요합니다.");
  const o = ex.findOrder(acc, uuid, identifier);
  return o === undefined ? NOT_FOUND() : ok(restOrder(o, true));
}

function sortOrders(list: Order[], orderBy: string | undefined): Order[] | ApiError {
  if (orderBy !== undefined && orderBy !== "asc" && orderBy !== "desc") return INVALID();
  const asc = orderBy === "asc";
  return list.sort((a, b) => (asc ? a.createdAt - b.createdAt : b.createdAt - a.createdAt));
}

function idsOf(params: Params, max: number): { uuids: string[]; identifiers: string[] } | ApiError {
  const uuids = params.all("uuids[]");
  const identifiers = params.all("identifiers[]");
  if (uuids.length > 0 === identifiers.length > 0)
    return INVALID("uuids[] 또는 identifiers[] 중 하나만 보내야 합니다.");
  if (uuids.length + identifiers.length > max)
    return INVALID(`최대 ${max}개까지 조회할 수 있습니다.`);
  return { uuids, identifiers };
}

export function ordersByIds({ ex, acc, params }: PrivateRequest): PrivateResult {
  const ids = idsOf(params, 100);
  if ("status" in ids) return ids;
  const market = params.get("market");
  const found: Order[] = [];
  for (const u of ids.uuids) {
    const o = ex.findOrder(acc, u, undefined);
    if (o !== undefined) found.push(o);
  }
  for (const i of ids.identifiers) {
    const o = ex.findOrder(acc, undefined, i);
    if (o !== undefined) found.push(o);
  }
  const sorted = sortOrders(
    found.filter((o) => market === undefined || o.market === market),
    params.get("order_by"),
  );
  return Array.isArray(sorted) ? ok(sorted.map((o) => restOrder(o, false))) : sorted;
}

function statesOf(
  params: Params,
  allowed: readonly string[],
  fallback: readonly string[],
): string[] | ApiError {
  const one = params.get("state");
  const many = params.all("states[]");
  if (one !== undefined && many.length > 0)
    return INVALID("state 와 states[] 는 함께 사용할 수 없습니다.");
  const states = one !== undefined ? [one] : many.length > 0 ? many : [...fallback];
  for (const s of states) if (!allowed.includes(s)) return INVALID();
  return states;
}

export function openOrders({ acc, params }: PrivateRequest): PrivateResult {
  const states = statesOf(params, ["wait", "watch"], ["wait"]);
  if (!Array.isArray(states)) return states;
  const page = params.int("page", 1);
  const limit = params.int("limit", 100);
  if (!(page >= 1) || !(limit >= 1 && limit <= 100)) return INVALID();
  const market = params.get("market");
  const list = acc.orders.filter(
    (o) => states.includes(o.state) && (market === undefined || o.market === market),
  );
  const sorted = sortOrders(list, params.get("order_by"));
  if (!Array.isArray(sorted)) return sorted;
  return ok(sorted.slice((page - 1) * limit, page * limit).map((o) => restOrder(o, false)));
}

function parseTime(v: string | undefined): number | null | undefined {
  if (v === undefined || v === "") return undefined;
  if (/^\d+$/.test(v)) return Number(v);
  const t = Date.parse(v);
  return Number.isNaN(t) ? null : t;
}

const WEEK = 7 * 86_400_000;

export function closedOrders({ ex, acc, params }: PrivateRequest): PrivateResult {
  const states = statesOf(params, ["done", "cancel"], ["done", "cancel"]);
  if (!Array.isArray(states)) return states;
  const limit = params.int("limit", 100);
  if (!(limit >= 1 && limit <= 1000)) return INVALID();
  let start = parseTime(params.get("start_time"));
  let end = parseTime(params.get("end_time"));
  if (start === null || end === null) return INVALID();
  if (start !== undefined && end !== undefined) {
    if (end < start || end - start > WEEK) return INVALID("조회 기간은 최대 7일입니다.");
  } else if (start !== undefined) end = start + WEEK;
  else if (end !== undefined) start = end - WEEK;
  else {
    end = ex.now() + 1;
    start = end - WEEK;
  }
  const market = params.get("market");
  const list = acc.orders.filter(
    (o) =>
      states.includes(o.state) &&
      (market === undefined || o.market === market) &&
      o.createdAt >= start &&
      o.createdAt <= end,
  );
  const sorted = sortOrders(list, params.get("order_by"));
  if (!Array.isArray(sorted)) return sorted;
  return ok(sorted.slice(0, limit).map((o) => restOrder(o, false)));
}

export function cancelOrder({ ex, acc, params }: PrivateRequest): PrivateResult {
  const uuid = params.get("uuid");
  const identifier = params.get("identifier");
  if (uuid === undefined && identifier === undefined) return INVALID();
  const o = ex.findOrder(acc, uuid, identifier);
  if (o === undefined) return NOT_FOUND();
  const snap = ex.cancel(o);
  return "name" in snap ? snap : ok(restOrder(snap, false));
}

function cancelMany(ex: Exchange, orders: Order[], failed: Order[]) {
  const ok: Record<string, unknown>[] = [];
  const ko: Record<string, unknown>[] = failed.map(brief);
  for (const o of orders) {
    const r = ex.cancel(o);
    ("name" in r ? ko : ok).push(brief(o));
  }
  return { success: { count: ok.length, orders: ok }, failed: { count: ko.length, orders: ko } };
}

function brief(o: Order): Record<string, unknown> {
  const out: Record<string, unknown> = { uuid: o.uuid, market: o.market };
  if (o.identifier !== null) out.identifier = o.identifier;
  return out;
}

export function cancelByIds({ ex, acc, params }: PrivateRequest): PrivateResult {
  const ids = idsOf(params, 20);
  if ("status" in ids) return ids;
  const orders: Order[] = [];
  const failed: Record<string, unknown>[] = [];
  for (const u of ids.uuids) {
    const o = ex.findOrder(acc, u, undefined);
    if (o === undefined) failed.push({ uuid: u });
    else orders.push(o);
  }
  for (const i of ids.identifiers) {
    const o = ex.findOrder(acc, undefined, i);
    if (o === undefined) failed.push({ identifier: i });
    else orders.push(o);
  }
  const r = cancelMany(ex, orders, []);
  r.failed.orders.push(...failed);
  r.failed.count = r.failed.orders.length;
  return ok(r);
}

export function cancelOpen({ ex, acc, params }: PrivateRequest): PrivateResult {
  const side = params.get("cancel_side") ?? "all";
  if (side !== "all" && side !== "bid" && side !== "ask") return INVALID();
  const pairs = params.list("pairs");
  const quotes = params.list("quote_currencies");
  if (pairs.length > 0 && quotes.length > 0)
    return INVALID("pairs 와 quote_currencies 는 함께 사용할 수 없습니다.");
  if (pairs.length > 20) return INVALID();
  const excluded = new Set([...params.list("excluded_pairs"), ...params.list("exclude_pairs")]);
  const count = params.int("count", 20);
  if (!(count >= 1 && count <= 300)) return INVALID();
  const list = acc.orders.filter((o) => {
    if (o.state !== "wait") return false;
    if (side !== "all" && o.side !== side) return false;
    if (excluded.has(o.market)) return false;
    if (pairs.length > 0 && !pairs.includes(o.market)) return false;
    if (quotes.length > 0 && !quotes.includes(o.market.split("-")[0]!)) return false;
    return true;
  });
  const sorted = sortOrders(list, params.get("order_by"));
  if (!Array.isArray(sorted)) return sorted;
  return ok(cancelMany(ex, sorted.slice(0, count), []));
}

export function cancelAndNew({ ex, acc, body }: PrivateRequest): PrivateResult {
  if (body === null) return INVALID();
  const prevUuid = typeof body.prev_order_uuid === "string" ? body.prev_order_uuid : undefined;
  const prevId =
    typeof body.prev_order_identifier === "string" ? body.prev_order_identifier : undefined;
  if (prevUuid === undefined && prevId === undefined)
    return INVALID("prev_order_uuid 또는 prev_order_identifier 가 필요합니다.");
  if (typeof body.new_ord_type !== "string")
    return apiError(400, "validation_error", "new_ord_type is missing");
  const old = ex.findOrder(acc, prevUuid, prevId);
  if (old === undefined) return NOT_FOUND();
  if (old.state !== "wait")
    return apiError(400, "canceled_order", "이미 취소되었거나 체결된 주문입니다.");
  if (body.new_identifier !== undefined && body.new_identifier === old.identifier)
    return INVALID("new_identifier 는 이전 주문의 identifier 와 달라야 합니다.");
  const volume = body.new_volume === "remain_only" ? String(old.remainingVolume) : body.new_volume;
  const req: OrderRequest = {
    market: old.market,
    side: old.side,
    ord_type: body.new_ord_type,
    volume,
    price: body.new_price,
    time_in_force: body.new_time_in_force,
    smp_type: body.new_smp_type,
    identifier: body.new_identifier,
  };
  // Release the old order's lock before checking funds for the new one.
  const snap = ex.cancel(old);
  if ("name" in snap) return snap as ApiError;
  const v = ex.validate(acc, req, false);
  if ("status" in v) return v;
  const placed = ex.place(acc, v);
  return ok(
    {
      ...restOrder(snap as Order, false),
      new_order_uuid: placed.order.uuid,
      new_order_identifier: placed.order.identifier,
    },
    201,
  );
}

/** Withdrawal and deposit endpoints answer (per scope) but never move funds. */
export function walletRead(): PrivateResult {
  return ok([]);
}

export function walletWrite(): PrivateResult {
  return apiError(403, "open_api_withdraw_locked", "Open API 출금이 잠겨 있습니다.");
}

export function withdrawChance({ ex, acc, params }: PrivateRequest): PrivateResult {
  const currency = params.get("currency");
  if (currency === undefined) return apiError(400, "validation_error", "currency is missing");
  const b = ex.balance(acc, currency);
  return ok({
    member_level: {
      security_level: 4,
      fee_level: 0,
      email_verified: true,
      identity_auth_verified: true,
    },
    currency: {
      code: currency,
      withdraw_fee: "0",
      is_coin: currency !== "KRW",
      wallet_state: "working",
    },
    account: { currency, balance: String(b.balance), locked: String(b.locked) },
    withdraw_limit: {
      currency,
      minimum: "0",
      onetime: "0",
      daily: "0",
      remaining_daily: "0",
      can_withdraw: false,
    },
  });
}

export function walletStatus(): PrivateResult {
  return ok([]);
}
