/**
 * Builds order-exec: intake on `orders.v1.place/.cancel/.get` (queue
 * `order-exec`), the kill switch from KV `control`, tick sizes from
 * `/v1/orderbook/instruments`, the shared rate governor, the executor, and the
 * private WebSocket that drives order state. Nothing happens on import;
 * `start()` connects, `stop()` shuts down in order.
 */
import { Kvm } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/transport-node";
import { metrics } from "@opentelemetry/api";
import {
  type AuditPublisher,
  CancelReply,
  CancelRequest,
  ControlState,
  createJsPublisher,
  type JsPublisher,
  type Logger,
  type OrderEvent,
  OrderIntent,
  OrderRef,
  OrderReply,
  OrderStatus,
  type Server,
  type Subjects,
  serve,
  type TradingState,
  type UplineError,
} from "@upline/shared";
import {
  createGovernor,
  createOrderApi,
  createRestClient,
  type Governor,
  getInstruments,
  type RestClient,
  type SignedGrant,
  UPBIT_GROUPS,
} from "@upline/upbit";
import { createClaims } from "./claims.ts";
import { coalesceWrites } from "./coalesce.ts";
import { createExecutor, type ExchangeCallSigner, type Executor } from "./exec.ts";
import { createOrderAuditPublisher } from "./fast-encode.ts";
import { fastOrderIntent } from "./intake.ts";
import { createOrderEventPublisher } from "./order-events.ts";
import { createPrivateFeed, type PrivateFeed } from "./private-feed.ts";
import { createKvGovernorStore, type KvGovernorStore } from "./rate-store.ts";
import { createRecovery, type Recovery } from "./recover.ts";
import { DEFAULT_MAX_TOTAL, DEFAULT_MIN_TOTAL, type MarketRules } from "./risk.ts";

export interface OrderExecSettings {
  readonly restUrl: string;
  /** Private WebSocket URL; undefined: no fills feed (orders are still placed). */
  readonly privateWsUrl?: string | undefined;
  /** account → signer key id. */
  readonly accounts: Readonly<Record<string, string>>;
  readonly pocket: string;
  readonly markets: readonly string[];
  readonly minTotal?: Readonly<Record<string, string>> | undefined;
  readonly maxTotal?: Readonly<Record<string, string>> | undefined;
  readonly maxNotional?: Readonly<Record<string, string>> | undefined;
  readonly maxOrdersPerS: number;
  readonly orderLimit: number;
  /** false: no pacing at all (benchmarks against a simulator without limits). */
  readonly governor: boolean;
  readonly queueMs: number;
  readonly httpTimeoutMs: number;
  readonly absentAfterMs: number;
  readonly resolveMs: number;
  readonly lookupBaseMs?: number;
  /**
   * A `pending`/`unknown` claim not updated for this long is recovered by a
   * scan (recover.ts); default max(5 min, resolveMs + 2 × queueMs + 2 × httpTimeoutMs).
   */
  readonly recoverStaleMs?: number;
  /** Recovery scan interval after the one at start (default 60 s; 0: no scans at all). */
  readonly recoverScanMs?: number;
  readonly instrumentsRefreshMs?: number;
  readonly maxRequestBytes?: number;
  /** One socket write per event-loop turn on `nc` (default true; see coalesce.ts). */
  readonly coalesceWrites?: boolean;
}

/** Signs one exchange call (the signer client's `sign`). */
export type SignFn = (args: {
  keyId: string;
  method: "GET" | "POST" | "DELETE" | "WS";
  path: string;
  params?: readonly (readonly [string, string])[];
  body?: Readonly<Record<string, string>>;
}) => Promise<SignedGrant>;

export interface OrderExecDeps {
  readonly nc: NatsConnection;
  readonly subjects: Subjects;
  readonly logger: Logger;
  readonly sign: SignFn;
  readonly settings: OrderExecSettings;
  readonly clock?: () => number;
}

export interface OrderExec {
  readonly start: () => Promise<void>;
  /** Not ready → drain intake → finish background work → close sockets and pools. Idempotent. */
  readonly stop: () => Promise<void>;
  readonly ready: () => boolean;
  readonly detail: () => Record<string, unknown>;
  readonly trading: () => TradingState;
  /** The private feed's reconciliations per account (tests, health). */
  readonly reconciled: () => Readonly<Record<string, number>>;
}

export function buildOrderExec(deps: OrderExecDeps): OrderExec {
  const { nc, subjects, settings } = deps;
  const log = deps.logger.child({ component: "order-exec" });
  const clock = deps.clock ?? Date.now;
  const meter = metrics.getMeter("@upline/order-exec");
  const bans = meter.createCounter("order_exec.exchange_bans", {
    description: "Upbit 418 answers",
  });
  const outcomes = meter.createCounter("order_exec.orders", {
    description: "order intents by outcome",
  });

  let trading: TradingState | undefined;
  let tradingRevision = 0;
  let servers: Server[] = [];
  let publisher: JsPublisher | undefined;
  let audit: AuditPublisher | undefined;
  let rest: RestClient | undefined;
  let store: KvGovernorStore | undefined;
  let governor: Governor | undefined;
  let executor: Executor | undefined;
  let feed: PrivateFeed | undefined;
  let stopControl: (() => void) | undefined;
  let recovery: Recovery | undefined;
  let refreshTimer: NodeJS.Timeout | undefined;
  let ready = false;
  let stopping: Promise<void> | undefined;
  const rules = new Map<string, MarketRules>();

  const applyControl = (revision: number, value: Uint8Array | undefined, op: string) => {
    if (revision <= tradingRevision) return;
    tradingRevision = revision;
    if (op !== "PUT" || value === undefined) {
      trading = "active";
      return;
    }
    try {
      trading = ControlState.parse(JSON.parse(Buffer.from(value).toString("utf8"))).state;
    } catch (err) {
      log.error({ err }, "control state unreadable: treating as halted");
      trading = "halted";
    }
    log.info({ trading }, "trading state");
  };

  const loadInstruments = async () => {
    if (rest === undefined) return;
    const list = await getInstruments(rest, settings.markets, {
      deadlineMs: clock() + settings.queueMs,
    });
    for (const i of list) rules.set(i.market, { tickSize: i.tick_size });
  };

  const sign: ExchangeCallSigner = (keyId, call) =>
    deps.sign({
      keyId,
      method: call.method,
      path: call.path,
      ...(call.params === undefined ? {} : { params: call.params }),
      ...(call.body === undefined ? {} : { body: call.body }),
    });

  const onBan = (untilMs: number, group: string) => {
    const until = new Date(untilMs).toISOString();
    log.error(
      { group, until },
      "ALARM: Upbit answered 418 — every exchange call is stopped and trading is set to halted",
    );
    bans.add(1, { group });
    const reason = `Upbit 418 on group ${group}: banned until ${until}`;
    void (async () => {
      await audit
        ?.record({
          kind: "exchange_ban",
          outcome: "error",
          data: { group, until, pocket: settings.pocket },
        })
        .catch((err: unknown) => log.error({ err }, "ban audit failed"));
      const kv = await new Kvm(nc).open(subjects.buckets.control);
      await kv.put(
        subjects.controlTradingKey,
        JSON.stringify({
          state: "halted",
          reason,
          actor: "order-exec",
          updated_at: new Date(clock()).toISOString(),
        }),
      );
    })().catch((err: unknown) => log.error({ err }, "could not set trading to halted after a 418"));
  };

  const onIntakeError = (kind: string) => (err: UplineError, ctx: { subject: string }) => {
    outcomes.add(1, { outcome: "refused", code: err.code });
    void audit
      ?.record({
        kind,
        outcome: "denied",
        data: { subject: ctx.subject, code: err.code, reason: err.message },
      })
      .catch((e: unknown) => log.error({ err: e }, "intake audit failed"));
  };

  return {
    start: async () => {
      // One socket write per loop turn on this connection (the signer client
      // shares it in main.ts): see coalesce.ts.
      if (settings.coalesceWrites !== false && !coalesceWrites(nc))
        log.warn("nats.js internals changed: writes are not coalesced");
      const kvm = new Kvm(nc);
      const orderIds = await kvm.open(subjects.buckets.orderIds);
      const control = await kvm.open(subjects.buckets.control);
      const watcher = await control.watch({ key: subjects.controlTradingKey });
      const first = await control.get(subjects.controlTradingKey);
      if (first === null) trading ??= "active";
      else applyControl(first.revision, first.value, first.operation);
      stopControl = () => watcher.stop();
      void (async () => {
        for await (const e of watcher) applyControl(e.revision, e.value, e.operation);
      })().catch((err: unknown) => log.error({ err }, "control watch ended"));

      publisher = createJsPublisher(nc, { maxOutstanding: 4096 });
      // Fixed-shape order records built by hand (fast-encode.ts); same contract.
      audit = createOrderAuditPublisher(publisher, subjects, "order-exec", clock);
      if (settings.governor) {
        store = createKvGovernorStore(orderIds, settings.pocket, {
          publisher,
          bucket: subjects.buckets.orderIds,
        });
        await store.start();
        governor = createGovernor({
          store,
          clock,
          limits: { ...UPBIT_GROUPS, order: { limit: settings.orderLimit, windowMs: 1000 } },
          onBan,
        });
      }
      rest = createRestClient({
        baseUrl: settings.restUrl,
        headersTimeoutMs: settings.httpTimeoutMs,
        bodyTimeoutMs: settings.httpTimeoutMs,
        clock,
        ...(governor === undefined ? {} : { gate: governor }),
      });
      const api = createOrderApi(rest);
      await loadInstruments();
      refreshTimer = setInterval(() => {
        loadInstruments().catch((err: unknown) => log.warn({ err }, "instrument refresh failed"));
      }, settings.instrumentsRefreshMs ?? 600_000);
      refreshTimer.unref();
      const pub = publisher;
      const orderEvents = createOrderEventPublisher(pub, subjects);
      // Every order event also tells the private feed which orders are open.
      const publishOrderEvent = async (e: OrderEvent) => {
        feed?.observe(e);
        await orderEvents.publish(e);
      };
      executor = createExecutor({
        api,
        sign,
        claims: createClaims(orderIds, { publisher: pub, bucket: subjects.buckets.orderIds }),
        audit,
        publishEvent: publishOrderEvent,
        trading: () => trading ?? "halted",
        rules: (m) => rules.get(m),
        logger: log,
        clock,
        settings: {
          accounts: settings.accounts,
          limits: {
            markets: new Set(settings.markets),
            minTotal: settings.minTotal ?? DEFAULT_MIN_TOTAL,
            maxTotal: settings.maxTotal ?? DEFAULT_MAX_TOTAL,
            maxNotional: settings.maxNotional ?? {},
          },
          maxOrdersPerS: settings.maxOrdersPerS,
          queueMs: settings.queueMs,
          absentAfterMs: settings.absentAfterMs,
          resolveMs: settings.resolveMs,
          ...(settings.lookupBaseMs === undefined ? {} : { lookupBaseMs: settings.lookupBaseMs }),
        },
      });
      const ex = executor;
      const scanMs = settings.recoverScanMs ?? 60_000;
      if (scanMs > 0) {
        recovery = createRecovery({
          kv: orderIds,
          executor: ex,
          logger: log,
          replica: `${nc.info?.client_id ?? "?"}@${nc.info?.server_id ?? "?"}`,
          staleMs:
            settings.recoverStaleMs ??
            Math.max(
              300_000,
              settings.resolveMs + 2 * settings.queueMs + 2 * settings.httpTimeoutMs,
            ),
          scanMs,
          clock,
        });
      }
      const common = {
        queue: subjects.orders.queue,
        logger: log,
        maxBytes: settings.maxRequestBytes ?? 4096,
      };
      servers = [
        // The hot path: hand-checked intake (intake.ts), no span without trace context.
        serve(nc, {
          ...common,
          subject: subjects.orders.place,
          requestSchema: OrderIntent,
          replySchema: OrderReply,
          fastCheck: fastOrderIntent,
          spans: "traced",
          handler: async (intent) => {
            orderEvents.remember(intent);
            const reply = await ex.place(intent);
            outcomes.add(1, { outcome: reply.status, code: reply.error?.code ?? "" });
            return reply;
          },
          onError: onIntakeError("order_intake_refused"),
        }),
        serve(nc, {
          ...common,
          subject: subjects.orders.cancel,
          requestSchema: CancelRequest,
          replySchema: CancelReply,
          handler: (req) => ex.cancel(req),
          onError: onIntakeError("cancel_intake_refused"),
        }),
        serve(nc, {
          ...common,
          subject: subjects.orders.get,
          requestSchema: OrderRef,
          replySchema: OrderStatus,
          handler: (ref) => ex.get(ref),
          onError: onIntakeError("get_intake_refused"),
        }),
      ];
      if (settings.privateWsUrl !== undefined && settings.privateWsUrl !== "") {
        feed = createPrivateFeed({
          url: settings.privateWsUrl,
          accounts: settings.accounts,
          sign,
          signWs: async (keyId) =>
            (await deps.sign({ keyId, method: "WS", path: "/websocket/v1/private" })).authorization,
          api,
          publishEvent: publishOrderEvent,
          logger: log,
          clock,
          queueMs: settings.queueMs,
        });
        feed.start();
      }
      await nc.flush();
      ready = true;
      recovery?.start();
    },
    stop: () => {
      stopping ??= (async () => {
        ready = false;
        await Promise.all(servers.map((s) => s.stop()));
        const recovered = recovery?.stop();
        await executor?.stop();
        await recovered;
        await feed?.close();
        if (refreshTimer !== undefined) clearInterval(refreshTimer);
        stopControl?.();
        store?.stop();
        await rest?.close();
        await publisher?.close();
      })();
      return stopping;
    },
    ready: () => ready && trading !== undefined && (feed === undefined || feed.ready()),
    detail: () => ({
      trading,
      instruments: rules.size,
      background: executor?.pending() ?? 0,
      audit_failing: executor?.auditFailing() ?? false,
      banned_until: governor?.bannedUntil() ?? 0,
      queued: governor?.queued() ?? {},
      private_feed: feed?.state() ?? "off",
    }),
    trading: () => trading ?? "halted",
    reconciled: () => feed?.reconciled() ?? {},
  };
}
