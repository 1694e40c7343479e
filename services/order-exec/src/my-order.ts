/**
 * Pure translation of Upbit's private `myOrder` frames (DEFAULT format,
 * upbit-api.md §5.3) and REST order objects into order events. Event ids are
 * stable for the same fact: a fill by its `trade_uuid`, a state by order uuid
 * and state, a reconciliation by the state and executed volume it saw.
 */
import type { OrderEvent, OrderEventType } from "@upline/shared";
import { decimalString, type UpbitOrder } from "@upline/upbit";
import { z } from "zod";

interface MyOrderFrame {
  readonly type: "myOrder";
  readonly code: string;
  readonly uuid: string;
  readonly ask_bid: "ASK" | "BID";
  readonly order_type: string;
  readonly state: string;
  readonly trade_uuid?: string | null;
  readonly price?: number | null;
  readonly avg_price?: number | null;
  readonly volume?: number | null;
  readonly remaining_volume?: number | null;
  readonly executed_volume?: number | null;
  readonly trade_fee?: number | null;
  readonly is_maker?: boolean | null;
  readonly identifier?: string | null;
  readonly timestamp?: number;
}

const STATE_EVENT: Readonly<Record<string, OrderEventType>> = {
  wait: "open",
  watch: "open",
  trade: "partially_filled",
  done: "filled",
  cancel: "cancelled",
  prevented: "cancelled",
};

const num = (n: number | null | undefined) =>
  typeof n === "number" && Number.isFinite(n) && n >= 0 ? decimalString(n) : undefined;

const ORD_TYPES = new Set(["limit", "price", "market", "best"]);

/** A `myOrder` frame as an order event; undefined for other frames or unknown states. */
export function eventFromMyOrder(
  account: string,
  frame: unknown,
  nowIso: string,
): OrderEvent | undefined {
  const f = frame as Partial<MyOrderFrame>;
  if (
    f === null ||
    typeof f !== "object" ||
    f.type !== "myOrder" ||
    typeof f.uuid !== "string" ||
    typeof f.code !== "string"
  )
    return undefined;
  const type = STATE_EVENT[f.state ?? ""];
  if (type === undefined) return undefined;
  const isTrade = f.state === "trade" && typeof f.trade_uuid === "string";
  const price = num(f.price);
  const volume = num(f.volume);
  const fee = num(f.trade_fee);
  const id = isTrade ? `${f.uuid}.trade.${f.trade_uuid}` : `${f.uuid}.${f.state}`;
  const e: OrderEvent = {
    id,
    type,
    ts: nowIso,
    account,
    market: f.code,
    uuid: f.uuid,
    side: f.ask_bid === "BID" ? "bid" : "ask",
    ...(ORD_TYPES.has(f.order_type ?? "") ? { ord_type: f.order_type as "limit" } : {}),
    ...(typeof f.identifier === "string" && /^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$/.test(f.identifier)
      ? { client_order_id: f.identifier }
      : {}),
    ...(!isTrade && price !== undefined ? { price } : {}),
    ...(!isTrade && volume !== undefined ? { volume } : {}),
    ...(num(f.executed_volume) === undefined
      ? {}
      : { executed_volume: num(f.executed_volume) as string }),
    ...(num(f.remaining_volume) === undefined
      ? {}
      : { remaining_volume: num(f.remaining_volume) as string }),
    ...(num(f.avg_price) === undefined ? {} : { avg_price: num(f.avg_price) as string }),
    ...(isTrade && price !== undefined && volume !== undefined
      ? {
          fill: {
            trade_uuid: f.trade_uuid as string,
            price,
            volume,
            fee: fee ?? "0",
            is_maker: f.is_maker === true,
          },
        }
      : {}),
  };
  return e;
}

const DEC = /^(0|[1-9][0-9]*)(\.[0-9]+)?$/;
const decOrUndefined = (v: string | null | undefined) =>
  typeof v === "string" && DEC.test(v) ? v : undefined;

/** A REST order seen while reconciling (start, reconnect) as a `reconciled` event. */
export function reconciledEvent(account: string, o: UpbitOrder, nowIso: string): OrderEvent {
  const executed = decOrUndefined(o.executed_volume) ?? "0";
  return {
    id: `${o.uuid}.reconciled.${o.state}.${executed}`,
    type: "reconciled",
    ts: nowIso,
    account,
    market: o.market,
    uuid: o.uuid,
    side: o.side,
    ...(ORD_TYPES.has(o.ord_type) ? { ord_type: o.ord_type as "limit" } : {}),
    ...(typeof o.identifier === "string" && /^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$/.test(o.identifier)
      ? { client_order_id: o.identifier }
      : {}),
    ...(decOrUndefined(o.price) === undefined ? {} : { price: o.price as string }),
    ...(decOrUndefined(o.volume) === undefined ? {} : { volume: o.volume as string }),
    executed_volume: executed,
    ...(decOrUndefined(o.remaining_volume) === undefined
      ? {}
      : { remaining_volume: o.remaining_volume as string }),
  };
}

const RestTrade = z.looseObject({
  uuid: z.string(),
  price: z.string(),
  volume: z.string(),
  created_at: z.string().optional(),
});
const RestOrderWithTrades = z.looseObject({
  uuid: z.string(),
  side: z.enum(["bid", "ask"]),
  ord_type: z.string(),
  state: z.string(),
  market: z.string(),
  identifier: z.string().nullish(),
  price: z.string().nullish(),
  volume: z.string().nullish(),
  executed_volume: z.string().nullish(),
  remaining_volume: z.string().nullish(),
  paid_fee: z.string().nullish(),
  trades: z.array(RestTrade).optional(),
});

/**
 * The events the private WebSocket would have sent for an order while nobody
 * listened (GET /v1/order with its trades): one `partially_filled` with its
 * fill per trade and, once the order is closed, its final state, with the
 * WebSocket's own ids (`<uuid>.trade.<trade_uuid>`, `<uuid>.<state>`) so a copy
 * that did arrive collapses with it. REST gives only the order's total fee:
 * it is put on the last trade (the fees add up to what Upbit charged), and
 * REST does not say who made the market, so `is_maker` is false.
 */
export function eventsFromRestOrder(account: string, order: unknown, nowIso: string): OrderEvent[] {
  const parsed = RestOrderWithTrades.safeParse(order);
  if (!parsed.success) return [];
  const o = parsed.data;
  const type = STATE_EVENT[o.state];
  if (type === undefined) return [];
  const common = {
    ts: nowIso,
    account,
    market: o.market,
    uuid: o.uuid,
    side: o.side,
    ...(ORD_TYPES.has(o.ord_type) ? { ord_type: o.ord_type as "limit" } : {}),
    ...(typeof o.identifier === "string" && /^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$/.test(o.identifier)
      ? { client_order_id: o.identifier }
      : {}),
  };
  const trades = (o.trades ?? []).filter((t) => DEC.test(t.price) && DEC.test(t.volume));
  const totalFee = decOrUndefined(o.paid_fee) ?? "0";
  const events: OrderEvent[] = trades.map((t, i) => ({
    ...common,
    id: `${o.uuid}.trade.${t.uuid}`,
    type: "partially_filled",
    fill: {
      trade_uuid: t.uuid,
      price: t.price,
      volume: t.volume,
      fee: i === trades.length - 1 ? totalFee : "0",
      is_maker: false,
    },
  }));
  if (type === "open") return events;
  events.push({
    ...common,
    id: `${o.uuid}.${o.state}`,
    type,
    ...(decOrUndefined(o.price) === undefined ? {} : { price: o.price as string }),
    ...(decOrUndefined(o.volume) === undefined ? {} : { volume: o.volume as string }),
    ...(decOrUndefined(o.executed_volume) === undefined
      ? {}
      : { executed_volume: o.executed_volume as string }),
    ...(decOrUndefined(o.remaining_volume) === undefined
      ? {}
      : { remaining_volume: o.remaining_volume as string }),
  });
  return events;
}
