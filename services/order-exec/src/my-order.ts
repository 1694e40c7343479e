/**
 * Pure translation of Upbit's private `myOrder` frames (DEFAULT format,
 * upbit-api.md §5.3) and REST order objects into order events. Event ids are
 * stable for the same fact: a fill by its `trade_uuid`, a state by order uuid
 * and state, a reconciliation by the state and executed volume it saw.
 */
import type { OrderEvent, OrderEventType } from "@upline/shared";
import { decimalString, type UpbitOrder } from "@upline/upbit";

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
