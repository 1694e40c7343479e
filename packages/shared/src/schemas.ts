/**
 * zod schemas of every message on the bus (DESIGN.md, "Contracts"). Objects are
 * strict: an unknown field is an error, not something to ignore. Money and
 * quantities are decimal strings, never JavaScript numbers.
 */
import { z } from "zod";
import { isMarketCode } from "./subjects.ts";

/** A non-negative decimal written as a string: "0.001", "95000000". */
export const Decimal = z
  .string()
  .regex(/^(0|[1-9][0-9]*)(\.[0-9]+)?$/, 'must be a non-negative decimal string such as "0.5"');
/** A decimal string that may be negative (price changes). */
export const SignedDecimal = z
  .string()
  .regex(/^-?(0|[1-9][0-9]*)(\.[0-9]+)?$/, 'must be a decimal string such as "-12.5"');
export const MarketCode = z
  .string()
  .refine(isMarketCode, "must be an Upbit market code such as KRW-BTC");
/** Epoch milliseconds. */
export const EpochMs = z.number().int().nonnegative();
export const IsoTime = z.iso.datetime({ offset: true });

export const Side = { Bid: "bid", Ask: "ask" } as const;
export type Side = (typeof Side)[keyof typeof Side];
export const OrdType = { Limit: "limit", Price: "price", Market: "market", Best: "best" } as const;
export type OrdType = (typeof OrdType)[keyof typeof OrdType];
export const TimeInForce = { Ioc: "ioc", Fok: "fok", PostOnly: "post_only" } as const;
export type TimeInForce = (typeof TimeInForce)[keyof typeof TimeInForce];

const ClientOrderId = z
  .string()
  .regex(
    /^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$/,
    "must be 1-64 characters of letters, digits and . _ : -",
  );
const AccountId = z.string().regex(/^[a-z0-9][a-z0-9_-]{0,63}$/, "must be a lower-case account id");

// ---------------------------------------------------------------- orders

/** `orders.v1.place` request: what a strategy wants traded. */
export const OrderIntent = z
  .strictObject({
    client_order_id: ClientOrderId,
    account: AccountId,
    market: MarketCode,
    side: z.enum(["bid", "ask"]),
    ord_type: z.enum(["limit", "price", "market", "best"]),
    price: Decimal.optional(),
    volume: Decimal.optional(),
    time_in_force: z.enum(["ioc", "fok", "post_only"]).optional(),
    expires_at: IsoTime.optional(),
  })
  .superRefine((o, ctx) => {
    const need = (field: "price" | "volume", present: boolean, why: string) => {
      if ((o[field] !== undefined) !== present) {
        ctx.addIssue({
          code: "custom",
          path: [field],
          message: `${present ? "required" : "not allowed"} ${why}`,
        });
      }
    };
    switch (o.ord_type) {
      case "limit":
        need("price", true, "for a limit order");
        need("volume", true, "for a limit order");
        break;
      case "price":
        if (o.side !== "bid")
          ctx.addIssue({
            code: "custom",
            path: ["side"],
            message: "ord_type price is a market buy: side must be bid",
          });
        need("price", true, "for a market buy (the total to spend)");
        need("volume", false, "for a market buy");
        break;
      case "market":
        if (o.side !== "ask")
          ctx.addIssue({
            code: "custom",
            path: ["side"],
            message: "ord_type market is a market sell: side must be ask",
          });
        need("volume", true, "for a market sell");
        need("price", false, "for a market sell");
        break;
      case "best":
        if (o.time_in_force !== "ioc" && o.time_in_force !== "fok") {
          ctx.addIssue({
            code: "custom",
            path: ["time_in_force"],
            message: "a best order needs time_in_force ioc or fok",
          });
        }
        need("price", o.side === "bid", "for a best order on this side");
        need("volume", o.side === "ask", "for a best order on this side");
        break;
    }
    if (o.time_in_force === "post_only" && o.ord_type !== "limit") {
      ctx.addIssue({
        code: "custom",
        path: ["time_in_force"],
        message: "post_only applies to limit orders only",
      });
    }
  });
export type OrderIntent = z.infer<typeof OrderIntent>;

export const OrderErrorBody = z.strictObject({
  code: z.string(),
  message: z.string(),
  /** Upbit's `error.name`, when the exchange refused the order. */
  exchange_error: z.string().optional(),
});

/** `orders.v1.place` reply. `unknown` is followed by a resolving order event. */
export const OrderReply = z.strictObject({
  status: z.enum(["accepted", "rejected", "unknown"]),
  client_order_id: ClientOrderId,
  uuid: z.string().optional(),
  error: OrderErrorBody.optional(),
});
export type OrderReply = z.infer<typeof OrderReply>;

/** `orders.v1.cancel` / `orders.v1.get` request: one order by exchange uuid or client id. */
export const OrderRef = z
  .strictObject({
    account: AccountId,
    uuid: z.string().optional(),
    client_order_id: ClientOrderId.optional(),
  })
  .refine((r) => (r.uuid === undefined) !== (r.client_order_id === undefined), {
    message: "give exactly one of uuid and client_order_id",
  });
export type OrderRef = z.infer<typeof OrderRef>;

/**
 * `orders.v1.cancel` request: one order (uuid or client_order_id), several by
 * ids (≤ 20 per exchange call), every open order (optionally one market/side),
 * or cancel-and-new (the new order keeps the old one's market and side).
 */
export const CancelRequest = z.union([
  OrderRef,
  z
    .strictObject({
      account: AccountId,
      uuids: z.array(z.string().min(1)).min(1).max(20).optional(),
      client_order_ids: z.array(ClientOrderId).min(1).max(20).optional(),
    })
    .refine((r) => (r.uuids === undefined) !== (r.client_order_ids === undefined), {
      message: "give exactly one of uuids and client_order_ids",
    }),
  z.strictObject({
    account: AccountId,
    all: z.literal(true),
    market: MarketCode.optional(),
    side: z.enum(["bid", "ask"]).optional(),
  }),
  z
    .strictObject({
      account: AccountId,
      uuid: z.string().optional(),
      client_order_id: ClientOrderId.optional(),
      replace_with: z.strictObject({
        client_order_id: ClientOrderId,
        ord_type: z.enum(["limit", "price", "market", "best"]),
        price: Decimal.optional(),
        /** A decimal, or "remain_only" to reuse the old order's remaining volume. */
        volume: z.union([Decimal, z.literal("remain_only")]).optional(),
        time_in_force: z.enum(["ioc", "fok", "post_only"]).optional(),
      }),
    })
    .refine((r) => (r.uuid === undefined) !== (r.client_order_id === undefined), {
      message: "give exactly one of uuid and client_order_id",
    }),
]);
export type CancelRequest = z.infer<typeof CancelRequest>;

/** `orders.v1.cancel` reply: what the exchange accepted to cancel (cancels complete asynchronously). */
export const CancelReply = z.strictObject({
  status: z.enum(["accepted", "rejected"]),
  cancelled: z.array(z.strictObject({ uuid: z.string(), client_order_id: z.string().optional() })),
  failed: z.array(
    z.strictObject({ uuid: z.string().optional(), client_order_id: z.string().optional() }),
  ),
  /** cancel-and-new: the replacement order. */
  new_uuid: z.string().optional(),
  new_client_order_id: z.string().optional(),
  error: OrderErrorBody.optional(),
});
export type CancelReply = z.infer<typeof CancelReply>;

/** `orders.v1.get` reply: the exchange's view of one order (amounts as Upbit's decimal strings). */
export const OrderStatus = z.strictObject({
  uuid: z.string(),
  client_order_id: z.string().optional(),
  market: z.string(),
  side: z.enum(["bid", "ask"]),
  ord_type: z.string(),
  state: z.string(),
  price: z.string().optional(),
  volume: z.string().optional(),
  remaining_volume: z.string().optional(),
  executed_volume: z.string(),
  created_at: z.string(),
});
export type OrderStatus = z.infer<typeof OrderStatus>;

export const OrderEventType = {
  Accepted: "accepted",
  Rejected: "rejected",
  Open: "open",
  PartiallyFilled: "partially_filled",
  Filled: "filled",
  Cancelled: "cancelled",
  Unknown: "unknown",
  Reconciled: "reconciled",
} as const;
export type OrderEventType = (typeof OrderEventType)[keyof typeof OrderEventType];

/** `orders.v1.events.<MARKET>`: one fact about one order. */
export const OrderEvent = z.strictObject({
  /** Stable for the same fact; also the `Nats-Msg-Id`. */
  id: z.string().min(1),
  type: z.enum([
    "accepted",
    "rejected",
    "open",
    "partially_filled",
    "filled",
    "cancelled",
    "unknown",
    "reconciled",
  ]),
  ts: IsoTime,
  account: AccountId,
  market: MarketCode,
  client_order_id: ClientOrderId.optional(),
  uuid: z.string().optional(),
  side: z.enum(["bid", "ask"]).optional(),
  ord_type: z.enum(["limit", "price", "market", "best"]).optional(),
  price: Decimal.optional(),
  volume: Decimal.optional(),
  executed_volume: Decimal.optional(),
  remaining_volume: Decimal.optional(),
  avg_price: Decimal.optional(),
  fill: z
    .strictObject({
      trade_uuid: z.string(),
      price: Decimal,
      volume: Decimal,
      fee: Decimal,
      is_maker: z.boolean(),
    })
    .optional(),
  error: OrderErrorBody.optional(),
});
export type OrderEvent = z.infer<typeof OrderEvent>;

// ---------------------------------------------------------------- signer

/**
 * `signer.v1.sign` request: a compact JWS from the caller — EdDSA with its
 * Ed25519 key, or HS256 with the MAC key of its sealing session (header `kid` =
 * session id). `signer.v1.session` and `signer.v1.admin.*` take the same shape.
 */
export const SignRequest = z.strictObject({ jws: z.string().min(1).max(16_384) });
export type SignRequest = z.infer<typeof SignRequest>;

/**
 * `signer.v1.sign` reply: the grant sealed for the caller (AES-256-GCM with the
 * session key of the replica named by `replica`, the request's jti as
 * associated data), so no bearer token ever crosses NATS in clear. `sealed` is
 * base64url(iv ‖ ciphertext ‖ tag); it opens to a {@link SignGrant}.
 */
export const SignReply = z.strictObject({
  replica: z.string().min(1).max(64),
  sealed: z.string().min(1),
});
export type SignReply = z.infer<typeof SignReply>;

/**
 * What a sealed {@link SignReply} opens to: the Authorization header value and
 * the exact string that was hashed. GET/DELETE: `query` is the hashed
 * (decoded) string and `url_query` its percent-encoded twin to put after `?`;
 * POST: `body` is the JSON text to send byte for byte.
 */
export const SignGrant = z.strictObject({
  authorization: z.string().min(1),
  query: z.string().optional(),
  url_query: z.string().optional(),
  body: z.string().optional(),
});
export type SignGrant = z.infer<typeof SignGrant>;

/**
 * `signer.v1.session` reply from one replica: its ephemeral X25519 public key
 * (base64url, raw 32 bytes). Both sides derive the session keys with HKDF.
 * The same reply (same `epk`) confirms the handshake's second step, a
 * `typ: session_key` JWS carrying the caller's session MAC key sealed for
 * each replica; from then on sign requests may be HS256 under that key.
 */
export const SignerSessionReply = z.strictObject({
  replica: z.string().min(1).max(64),
  sid: z.string().min(16).max(64),
  epk: z.string().length(43),
  expires_at: IsoTime,
});
export type SignerSessionReply = z.infer<typeof SignerSessionReply>;

// ---------------------------------------------------------------- audit

export const AuditOutcome = { Ok: "ok", Error: "error", Denied: "denied" } as const;
export type AuditOutcome = (typeof AuditOutcome)[keyof typeof AuditOutcome];

/** `audit.v1.<service>.<kind>`: one request or outcome, redacted. */
export const AuditEvent = z.strictObject({
  /** UUIDv7; also the `Nats-Msg-Id`. */
  id: z.uuid({ version: "v7" }),
  ts: IsoTime,
  service: z.enum(["market-feed", "order-exec", "signer", "audit", "cli"]),
  kind: z.string().regex(/^[a-z][a-z0-9_-]*$/),
  outcome: z.enum(["ok", "error", "denied"]),
  trace_id: z
    .string()
    .regex(/^[0-9a-f]{32}$/)
    .optional(),
  actor: z.string().optional(),
  data: z.record(z.string(), z.unknown()),
});
export type AuditEvent = z.infer<typeof AuditEvent>;

// ---------------------------------------------------------------- control

export const TradingState = { Active: "active", Reducing: "reducing", Halted: "halted" } as const;
export type TradingState = (typeof TradingState)[keyof typeof TradingState];

/** KV `control`, key `trading`: the kill switch. */
export const ControlState = z.strictObject({
  state: z.enum(["active", "reducing", "halted"]),
  reason: z.string().max(500),
  actor: z.string(),
  updated_at: IsoTime,
});
export type ControlState = z.infer<typeof ControlState>;

// ---------------------------------------------------------------- market data

const Timestamps = {
  /** When the exchange stamped the fact (epoch ms). */
  exchange_ts: EpochMs,
  /** When market-feed received it (epoch ms). */
  received_ts: EpochMs,
};

export const Ticker = z.strictObject({
  type: z.literal("ticker"),
  market: MarketCode,
  ...Timestamps,
  opening_price: Decimal,
  high_price: Decimal,
  low_price: Decimal,
  trade_price: Decimal,
  prev_closing_price: Decimal,
  change: z.enum(["RISE", "EVEN", "FALL"]),
  signed_change_price: SignedDecimal,
  signed_change_rate: SignedDecimal,
  trade_volume: Decimal,
  acc_trade_volume_24h: Decimal,
  acc_trade_price_24h: Decimal,
});
export type Ticker = z.infer<typeof Ticker>;

export const Trade = z.strictObject({
  type: z.literal("trade"),
  market: MarketCode,
  ...Timestamps,
  price: Decimal,
  volume: Decimal,
  side: z.enum(["bid", "ask"]),
  /** Upbit's sequential_id, as a string: it exceeds 2^53. Unique, not ordered. */
  sequential_id: z.string().regex(/^[0-9]+$/),
});
export type Trade = z.infer<typeof Trade>;

export const OrderbookUnit = z.strictObject({
  ask_price: Decimal,
  bid_price: Decimal,
  ask_size: Decimal,
  bid_size: Decimal,
});

export const Orderbook = z.strictObject({
  type: z.literal("orderbook"),
  market: MarketCode,
  ...Timestamps,
  total_ask_size: Decimal,
  total_bid_size: Decimal,
  /** Best first, a full top-N book (not a delta). */
  units: z.array(OrderbookUnit).max(30),
  level: Decimal,
});
export type Orderbook = z.infer<typeof Orderbook>;

export const MarketEvent = z.discriminatedUnion("type", [Ticker, Trade, Orderbook]);
export type MarketEvent = z.infer<typeof MarketEvent>;

/** `md.v1.health.<MARKET>`: how fresh the feed is for one market. */
export const FeedHealth = z.strictObject({
  market: MarketCode,
  state: z.enum(["fresh", "stale", "disconnected"]),
  last_exchange_ts: EpochMs.optional(),
  staleness_ms: z.number().int().nonnegative().optional(),
  gaps: z.number().int().nonnegative(),
  reconnects: z.number().int().nonnegative(),
  ts: IsoTime,
});
export type FeedHealth = z.infer<typeof FeedHealth>;
