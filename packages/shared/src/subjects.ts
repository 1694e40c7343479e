/**
 * Every subject, queue group, stream and bucket name of upline (DESIGN.md,
 * "Subjects and streams"). Nothing else types a subject string. A namespace
 * (UPLINE_NAMESPACE) prefixes all of them so that several systems, or several
 * test files, share one NATS server without seeing each other.
 */

/** Upbit pair codes as they appear in subjects: `KRW-BTC`. */
const MARKET = /^[A-Z0-9]{2,10}-[A-Z0-9]{1,20}$/;

export function isMarketCode(market: string): boolean {
  return MARKET.test(market);
}

function market(code: string): string {
  if (!MARKET.test(code)) throw new RangeError(`not an Upbit market code: ${JSON.stringify(code)}`);
  return code;
}

export const MdChannel = { Ticker: "ticker", Trade: "trade", Orderbook: "orderbook" } as const;
export type MdChannel = (typeof MdChannel)[keyof typeof MdChannel];

export const ServiceName = {
  MarketFeed: "market-feed",
  OrderExec: "order-exec",
  Signer: "signer",
  Audit: "audit",
  Cli: "cli",
} as const;
export type ServiceName = (typeof ServiceName)[keyof typeof ServiceName];

/** The names of one upline system on a NATS server. */
export interface Subjects {
  readonly namespace: string;
  readonly md: {
    /** Stream-carried market data: `md.v1.upbit.<channel>.<MARKET>`. */
    readonly event: (channel: MdChannel, market: string) => string;
    /** Every market-data event (the MD stream's subject filter). */
    readonly all: string;
    /** Feed health per market (core NATS): `md.v1.health.<MARKET>`. */
    readonly health: (market: string) => string;
    readonly healthAll: string;
  };
  readonly orders: {
    readonly place: string;
    readonly cancel: string;
    readonly get: string;
    readonly queue: string;
    /** Order lifecycle events per market: `orders.v1.events.<MARKET>`. */
    readonly events: (market: string) => string;
    readonly eventsAll: string;
  };
  readonly signer: {
    readonly sign: string;
    readonly queue: string;
    /**
     * Sealing-session handshake (`signer.v1.session`, no queue group: every
     * replica answers with its own ephemeral X25519 key, so a caller holds one
     * session key per replica and sign replies can be sealed).
     */
    readonly session: string;
    /** Operator requests: `signer.v1.admin.<op>`. */
    readonly admin: (op: string) => string;
    readonly adminAll: string;
  };
  readonly audit: {
    /** `audit.v1.<service>.<kind>`. */
    readonly event: (service: ServiceName, kind: string) => string;
    readonly all: string;
    /** Signed audit checkpoints (core NATS, outside stream AUDIT): `checkpoints.v1.audit`. */
    readonly checkpoint: string;
  };
  readonly streams: { readonly md: string; readonly orders: string; readonly audit: string };
  readonly buckets: { readonly control: string; readonly orderIds: string };
  /** The key in the `control` bucket that holds the trading state. */
  readonly controlTradingKey: "trading";
}

const TOKEN = /^[a-z][a-z0-9_-]*$/;

function token(value: string, what: string): string {
  if (!TOKEN.test(value))
    throw new RangeError(`${what} must be a lower-case subject token: ${JSON.stringify(value)}`);
  return value;
}

/** Builds the name registry for a namespace ("" for the default system). */
export function createSubjects(namespace = ""): Subjects {
  if (namespace !== "" && !/^[a-z][a-z0-9]{0,15}$/.test(namespace)) {
    throw new RangeError(`invalid namespace ${JSON.stringify(namespace)}`);
  }
  const s = (subject: string) => (namespace ? `${namespace}.${subject}` : subject);
  const n = (name: string) => (namespace ? `${namespace}_${name}` : name);
  return Object.freeze({
    namespace,
    md: Object.freeze({
      event: (channel: MdChannel, m: string) => s(`md.v1.upbit.${channel}.${market(m)}`),
      all: s("md.v1.upbit.>"),
      health: (m: string) => s(`md.v1.health.${market(m)}`),
      healthAll: s("md.v1.health.*"),
    }),
    orders: Object.freeze({
      place: s("orders.v1.place"),
      cancel: s("orders.v1.cancel"),
      get: s("orders.v1.get"),
      queue: "order-exec",
      events: (m: string) => s(`orders.v1.events.${market(m)}`),
      eventsAll: s("orders.v1.events.>"),
    }),
    signer: Object.freeze({
      sign: s("signer.v1.sign"),
      queue: "signer",
      session: s("signer.v1.session"),
      admin: (op: string) => s(`signer.v1.admin.${token(op, "admin operation")}`),
      adminAll: s("signer.v1.admin.*"),
    }),
    audit: Object.freeze({
      event: (service: ServiceName, kind: string) =>
        s(`audit.v1.${service}.${token(kind, "audit kind")}`),
      all: s("audit.v1.>"),
      checkpoint: s("checkpoints.v1.audit"),
    }),
    streams: Object.freeze({ md: n("MD"), orders: n("ORDERS"), audit: n("AUDIT") }),
    buckets: Object.freeze({ control: n("control"), orderIds: n("order-ids") }),
    controlTradingKey: "trading",
  });
}
