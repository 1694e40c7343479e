/**
 * `upline order place | cancel | get | list`: requests to order-exec
 * (`orders.v1.place/.cancel/.get`). `list` has no request in order-exec's
 * contract: it folds the ORDERS stream's recent events for an account into the
 * last known state per order and shows the ones not yet finished.
 */
import { randomBytes } from "node:crypto";
import { parseArgs } from "node:util";
import { AckPolicy, DeliverPolicy, jetstream, jetstreamManager } from "@nats-io/jetstream";
import { nanos } from "@nats-io/transport-node";
import { SpanStatusCode, trace } from "@opentelemetry/api";
import {
  CancelReply,
  CancelRequest,
  decodeMessage,
  isMarketCode,
  OrderEvent,
  OrderIntent,
  OrderRef,
  OrderReply,
  OrderStatus,
  request,
} from "@upline/shared";
import { withBus } from "../bus.ts";
import { type CliIo, type Command, UsageError } from "../cli.ts";
import { type CliConfig, cliConfig } from "../config.ts";
import { ExitCode, hintFor, printJson, table } from "../output.ts";

const tracer = trace.getTracer("@upline/cli");

/** Runs `fn` inside a root span named for the command; its trace id is shown to the operator. */
export function traced<T>(name: string, fn: (traceId: string) => Promise<T>): Promise<T> {
  return tracer.startActiveSpan(name, async (span) => {
    try {
      return await fn(span.spanContext().traceId);
    } catch (err) {
      span.setStatus({ code: SpanStatusCode.ERROR, message: (err as { code?: string }).code });
      throw err;
    } finally {
      span.end();
    }
  });
}

const NO_TRACE = "0".repeat(32);
const traceNote = (id: string) => (id === NO_TRACE ? "" : `  trace=${id}`);

const SIDES: Record<string, "bid" | "ask"> = { bid: "bid", buy: "bid", ask: "ask", sell: "ask" };

/** A client order id for the operator: `cli-<time>-<random>`, valid as Upbit's identifier. */
export function newClientOrderId(now = Date.now()): string {
  return `cli-${now.toString(36)}-${randomBytes(4).toString("hex")}`;
}

/** Builds an order intent from `order place` flags; usage errors name the flag. */
export function intentFromFlags(
  values: Record<string, string | boolean | undefined>,
  account: string,
  now = Date.now(),
): OrderIntent {
  const str = (k: string) => (typeof values[k] === "string" ? (values[k] as string) : undefined);
  const market = str("market");
  if (market === undefined) throw new UsageError("--market is required (e.g. KRW-BTC)");
  if (!isMarketCode(market)) throw new UsageError(`--market ${market} is not an Upbit market code`);
  const side = SIDES[str("side") ?? ""];
  if (side === undefined) throw new UsageError("--side must be bid|buy or ask|sell");
  const expiresIn = str("expires-in-s");
  const raw = {
    client_order_id: str("client-order-id") ?? newClientOrderId(now),
    account: str("account") ?? account,
    market,
    side,
    ord_type: str("type") ?? "limit",
    ...(str("price") === undefined ? {} : { price: str("price") }),
    ...(str("volume") === undefined ? {} : { volume: str("volume") }),
    ...(str("tif") === undefined ? {} : { time_in_force: str("tif") }),
    ...(expiresIn === undefined
      ? {}
      : { expires_at: new Date(now + Number(expiresIn) * 1000).toISOString() }),
  };
  const parsed = OrderIntent.safeParse(raw);
  if (!parsed.success)
    throw new UsageError(
      parsed.error.issues
        .map(
          (i) =>
            `${i.path.length > 0 ? `--${String(i.path[0]).replace("_", "-")}` : "order"}: ${i.message}`,
        )
        .join("; "),
    );
  return parsed.data;
}

function replyExit(io: CliIo, status: string, error?: { code: string; message: string }) {
  if (status === "accepted") return ExitCode.Ok;
  if (error) {
    const hint = hintFor(error.code);
    io.err(`upline: ${error.code}: ${error.message}\n${hint ? `  → ${hint}\n` : ""}`);
  }
  return ExitCode.Failed;
}

const JSON_OPT = { json: { type: "boolean", default: false } } as const;
const REF_OPTS = {
  ...JSON_OPT,
  uuid: { type: "string" },
  "client-order-id": { type: "string" },
  account: { type: "string" },
  "timeout-ms": { type: "string" },
} as const;

function timeout(config: CliConfig, value: string | undefined, floor: number): number {
  if (value === undefined) return Math.max(config.UPLINE_TIMEOUT_MS, floor);
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n <= 0)
    throw new UsageError("--timeout-ms must be a positive whole number");
  return n;
}

function refFrom(
  values: { uuid?: string; "client-order-id"?: string; account?: string },
  config: CliConfig,
): OrderRef {
  if ((values.uuid === undefined) === (values["client-order-id"] === undefined))
    throw new UsageError("give exactly one of --uuid and --client-order-id");
  return {
    account: values.account ?? config.UPLINE_ACCOUNT,
    ...(values.uuid === undefined ? {} : { uuid: values.uuid }),
    ...(values["client-order-id"] === undefined
      ? {}
      : { client_order_id: values["client-order-id"] }),
  };
}

const place: Command = {
  path: ["order", "place"],
  summary: "place an order through order-exec (idempotent per --client-order-id)",
  usage:
    "--market KRW-BTC --side bid|ask [--type limit|price|market|best] [--price P] [--volume V] [--tif ioc|fok|post_only] [--client-order-id ID] [--account A] [--expires-in-s S] [--timeout-ms MS] [--json]",
  run: async (args, io) => {
    const { values } = parseArgs({
      args: [...args],
      options: {
        ...JSON_OPT,
        market: { type: "string" },
        side: { type: "string" },
        type: { type: "string" },
        price: { type: "string" },
        volume: { type: "string" },
        tif: { type: "string" },
        "client-order-id": { type: "string" },
        account: { type: "string" },
        "expires-in-s": { type: "string" },
        "timeout-ms": { type: "string" },
      },
      strict: true,
    });
    const config = cliConfig(io.env);
    const intent = intentFromFlags(values, config.UPLINE_ACCOUNT);
    const timeoutMs = timeout(config, values["timeout-ms"], 15_000);
    return withBus(config, ({ nc, subjects }) =>
      traced("upline order place", async (traceId) => {
        let reply: OrderReply;
        try {
          reply = await request(nc, subjects.orders.place, OrderIntent, OrderReply, intent, {
            timeoutMs,
            name: "orders.place",
          });
        } catch (err) {
          if ((err as { code?: string }).code === "BUS_TIMEOUT")
            io.err(
              `upline: no reply within ${timeoutMs} ms — the order may or may not have been placed.\n` +
                `  → repeat the same command with --client-order-id ${intent.client_order_id} (idempotent), or run\n` +
                `    upline order get --client-order-id ${intent.client_order_id}\n`,
            );
          throw err;
        }
        if (values.json) printJson(io, { ...reply, trace_id: traceId });
        else {
          io.out(
            `${reply.status}  ${intent.market} ${intent.side} ${intent.ord_type}  client_order_id=${reply.client_order_id}${reply.uuid ? `  uuid=${reply.uuid}` : ""}${traceNote(traceId)}\n`,
          );
          if (reply.status === "unknown")
            io.err(
              `upline: the exchange's answer is not known yet; order-exec resolves it and publishes an event.\n  → upline order get --client-order-id ${reply.client_order_id}\n`,
            );
        }
        return replyExit(io, reply.status, reply.error);
      }),
    );
  },
};

const cancel: Command = {
  path: ["order", "cancel"],
  summary:
    "cancel one order (--uuid | --client-order-id) or every open one (--all [--market M] [--side S])",
  usage:
    "(--uuid U | --client-order-id C | --all [--market M] [--side bid|ask]) [--account A] [--timeout-ms MS] [--json]",
  run: async (args, io) => {
    const { values } = parseArgs({
      args: [...args],
      options: {
        ...REF_OPTS,
        all: { type: "boolean", default: false },
        market: { type: "string" },
        side: { type: "string" },
      },
      strict: true,
    });
    const config = cliConfig(io.env);
    let req: CancelRequest;
    if (values.all) {
      if (values.uuid !== undefined || values["client-order-id"] !== undefined)
        throw new UsageError("--all cannot be combined with --uuid or --client-order-id");
      const side = values.side === undefined ? undefined : SIDES[values.side];
      if (values.side !== undefined && side === undefined)
        throw new UsageError("--side must be bid|buy or ask|sell");
      if (values.market !== undefined && !isMarketCode(values.market))
        throw new UsageError(`--market ${values.market} is not an Upbit market code`);
      req = {
        account: values.account ?? config.UPLINE_ACCOUNT,
        all: true,
        ...(values.market === undefined ? {} : { market: values.market }),
        ...(side === undefined ? {} : { side }),
      };
    } else req = refFrom(values, config);
    const timeoutMs = timeout(config, values["timeout-ms"], 15_000);
    return withBus(config, ({ nc, subjects }) =>
      traced("upline order cancel", async (traceId) => {
        const reply = await request(nc, subjects.orders.cancel, CancelRequest, CancelReply, req, {
          timeoutMs,
          name: "orders.cancel",
        });
        if (values.json) printJson(io, { ...reply, trace_id: traceId });
        else {
          io.out(
            `${reply.status}  cancelled ${reply.cancelled.length}, failed ${reply.failed.length}${traceNote(traceId)}\n`,
          );
          for (const c of reply.cancelled)
            io.out(
              `  cancelled  uuid=${c.uuid}${c.client_order_id ? `  client_order_id=${c.client_order_id}` : ""}\n`,
            );
          for (const f of reply.failed)
            io.out(
              `  failed     uuid=${f.uuid ?? "-"}  client_order_id=${f.client_order_id ?? "-"}\n`,
            );
        }
        return replyExit(io, reply.status, reply.error);
      }),
    );
  },
};

const get: Command = {
  path: ["order", "get"],
  summary: "show one order as the exchange sees it",
  usage: "(--uuid U | --client-order-id C) [--account A] [--json]",
  run: async (args, io) => {
    const { values } = parseArgs({ args: [...args], options: REF_OPTS, strict: true });
    const config = cliConfig(io.env);
    const ref = refFrom(values, config);
    const timeoutMs = timeout(config, values["timeout-ms"], 10_000);
    return withBus(config, async ({ nc, subjects }) => {
      const s = await request(nc, subjects.orders.get, OrderRef, OrderStatus, ref, {
        timeoutMs,
        name: "orders.get",
      });
      if (values.json) printJson(io, s);
      else
        io.out(
          table([
            ["uuid", s.uuid],
            ["client_order_id", s.client_order_id],
            ["market", s.market],
            ["side", s.side],
            ["type", s.ord_type],
            ["state", s.state],
            ["price", s.price],
            ["volume", s.volume],
            ["remaining", s.remaining_volume],
            ["executed", s.executed_volume],
            ["created_at", s.created_at],
          ]),
        );
      return ExitCode.Ok;
    });
  },
};

const FINISHED = new Set(["filled", "cancelled", "rejected"]);

/** Folds order events (oldest first) into the latest event per order. */
export function latestPerOrder(events: readonly OrderEvent[]): OrderEvent[] {
  const byOrder = new Map<string, OrderEvent>();
  const keyOf = new Map<string, string>();
  for (const e of events) {
    // Events of one order may carry only the client id (accepted) or only the uuid (fills).
    const key =
      (e.client_order_id && keyOf.get(`c:${e.client_order_id}`)) ||
      (e.uuid && keyOf.get(`u:${e.uuid}`)) ||
      e.client_order_id ||
      e.uuid ||
      e.id;
    if (e.client_order_id) keyOf.set(`c:${e.client_order_id}`, key);
    if (e.uuid) keyOf.set(`u:${e.uuid}`, key);
    const prev = byOrder.get(key);
    byOrder.set(key, {
      ...prev,
      ...e,
      client_order_id: e.client_order_id ?? prev?.client_order_id,
      uuid: e.uuid ?? prev?.uuid,
    } as OrderEvent);
  }
  return [...byOrder.values()];
}

const list: Command = {
  path: ["order", "list"],
  summary: "open orders of an account, from the ORDERS stream's recent events",
  usage: "[--account A] [--market M] [--since-min N (default 1440)] [--all] [--json]",
  run: async (args, io) => {
    const { values } = parseArgs({
      args: [...args],
      options: {
        ...JSON_OPT,
        account: { type: "string" },
        market: { type: "string" },
        "since-min": { type: "string" },
        all: { type: "boolean", default: false },
      },
      strict: true,
    });
    const config = cliConfig(io.env);
    const account = values.account ?? config.UPLINE_ACCOUNT;
    if (values.market !== undefined && !isMarketCode(values.market))
      throw new UsageError(`--market ${values.market} is not an Upbit market code`);
    const sinceMin = Number(values["since-min"] ?? 1440);
    if (!Number.isFinite(sinceMin) || sinceMin <= 0)
      throw new UsageError("--since-min must be a positive number");
    return withBus(config, async ({ nc, subjects }) => {
      const events = await readOrderEvents(nc, subjects.streams.orders, {
        subject:
          values.market === undefined
            ? subjects.orders.eventsAll
            : subjects.orders.events(values.market),
        since: new Date(Date.now() - sinceMin * 60_000),
        timeoutMs: config.UPLINE_TIMEOUT_MS,
      });
      const orders = latestPerOrder(events.filter((e) => e.account === account)).filter(
        (e) => values.all || !FINISHED.has(e.type),
      );
      if (values.json) for (const o of orders) printJson(io, o);
      else if (orders.length === 0)
        io.out(
          `no ${values.all ? "" : "open "}orders for account ${account} in the last ${sinceMin} min\n`,
        );
      else
        io.out(
          table([
            [
              "state",
              "market",
              "side",
              "type",
              "price",
              "volume",
              "executed",
              "client_order_id",
              "uuid",
              "updated",
            ],
            ...orders.map((o) => [
              o.type,
              o.market,
              o.side,
              o.ord_type,
              o.price,
              o.volume,
              o.executed_volume,
              o.client_order_id,
              o.uuid,
              o.ts,
            ]),
          ]),
        );
      return ExitCode.Ok;
    });
  },
};

/** Reads the events on `subject` stored since `since`, with an ordered consumer. */
async function readOrderEvents(
  nc: Parameters<typeof jetstream>[0],
  stream: string,
  options: { subject: string; since: Date; timeoutMs: number },
): Promise<OrderEvent[]> {
  // An ephemeral consumer with one filter subject (works on nats-server 2.9, which
  // ordered consumers' filter_subjects do not); the server drops it when idle.
  const jsm = await jetstreamManager(nc);
  const ci = await jsm.consumers.add(stream, {
    filter_subject: options.subject,
    deliver_policy: DeliverPolicy.StartTime,
    opt_start_time: options.since.toISOString(),
    ack_policy: AckPolicy.None,
    inactive_threshold: nanos(30_000),
  });
  const consumer = await jetstream(nc).consumers.get(stream, ci.name);
  if (ci.num_pending === 0) {
    await jsm.consumers.delete(stream, ci.name).catch(() => undefined);
    return [];
  }
  const out: OrderEvent[] = [];
  // Batches until the consumer reports nothing pending; an empty range costs one fetch expiry.
  for (;;) {
    const batch = await consumer.fetch({
      max_messages: 500,
      expires: Math.min(options.timeoutMs, 2_000),
    });
    let got = 0;
    let caughtUp = false;
    for await (const m of batch) {
      got++;
      try {
        out.push(decodeMessage(OrderEvent, m.data, m.subject));
      } catch {
        // A malformed event is skipped here; order-exec's schema is the contract.
      }
      if (m.info.pending === 0) {
        caughtUp = true;
        break;
      }
    }
    if (got === 0 || caughtUp) break;
  }
  await jsm.consumers.delete(stream, ci.name).catch(() => undefined);
  return out;
}

export const orderCommands: readonly Command[] = [place, cancel, get, list];
