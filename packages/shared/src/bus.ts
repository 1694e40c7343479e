/**
 * The NATS side of every service: connecting, and typed publish / request /
 * serve helpers that validate with the message's zod schema on both sides, set
 * `Nats-Msg-Id`, carry W3C trace context in headers, and move errors as
 * `{code, message}`.
 */
import { readFile } from "node:fs/promises";
import type { JetStreamClient, PubAck } from "@nats-io/jetstream";
import {
  type Authenticator,
  ClosedConnectionError,
  connect,
  createInbox,
  credsAuthenticator,
  DrainingConnectionError,
  type Msg,
  type MsgHdrs,
  type NatsConnection,
  NoRespondersError,
  headers as natsHeaders,
  nkeyAuthenticator,
  PermissionViolationError,
  RequestError,
  type Subscription,
  TimeoutError,
  tokenAuthenticator,
  usernamePasswordAuthenticator,
} from "@nats-io/transport-node";
import { context, SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
import type { z } from "zod";
import { UplineError, type WireError } from "./errors.ts";
import type { Logger } from "./log.ts";
import { extractTraceContext, injectTraceContext } from "./trace-context.ts";

const tracer = trace.getTracer("@upline/shared");
const encoder = new TextEncoder();

/** Header that marks a reply as an error; the body is then `{code, message}`. */
export const ERROR_HEADER = "Upline-Error";

export interface BusConfig {
  readonly NATS_URL: string;
  readonly NATS_USER?: string | undefined;
  readonly NATS_PASSWORD?: string | undefined;
  readonly NATS_TOKEN?: string | undefined;
  readonly NATS_NKEY_SEED?: string | undefined;
  readonly NATS_CREDS_FILE?: string | undefined;
  /** Reply subjects start with this instead of `_INBOX` (per-user inboxes, deploy/nats). */
  readonly NATS_INBOX_PREFIX?: string | undefined;
}

export interface ConnectBusOptions {
  /** Connection name shown by the server (`upline-<service>`). */
  readonly name: string;
  readonly logger: Logger;
  /** Give up on the first connection after this long (default: keep trying). */
  readonly firstConnectTimeoutMs?: number;
  /**
   * false: fail at once if no server accepts the first connection (command-line
   * tools); default true: keep trying until `firstConnectTimeoutMs`.
   */
  readonly waitOnFirstConnect?: boolean;
}

/**
 * Connects to NATS with the configured credentials and reconnects forever with
 * jitter; every status change is logged. Rejects with BUS_UNAVAILABLE only if
 * `firstConnectTimeoutMs` passes without a first connection.
 */
export async function connectBus(
  config: BusConfig,
  options: ConnectBusOptions,
): Promise<NatsConnection> {
  const authenticator: Authenticator[] = [];
  if (config.NATS_USER !== undefined) {
    authenticator.push(usernamePasswordAuthenticator(config.NATS_USER, config.NATS_PASSWORD ?? ""));
  }
  if (config.NATS_TOKEN !== undefined) authenticator.push(tokenAuthenticator(config.NATS_TOKEN));
  if (config.NATS_NKEY_SEED !== undefined)
    authenticator.push(nkeyAuthenticator(encoder.encode(config.NATS_NKEY_SEED)));
  if (config.NATS_CREDS_FILE !== undefined) {
    authenticator.push(credsAuthenticator(new Uint8Array(await readFile(config.NATS_CREDS_FILE))));
  }
  const log = options.logger;
  const servers = config.NATS_URL.split(",").map((s) => s.trim());
  let nc: NatsConnection;
  try {
    nc = await connect({
      servers,
      name: options.name,
      authenticator: authenticator.length > 0 ? authenticator : undefined,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 500,
      reconnectJitter: 250,
      waitOnFirstConnect: options.waitOnFirstConnect ?? true,
      timeout: options.firstConnectTimeoutMs ?? 20_000,
      noAsyncTraces: true,
      ...(config.NATS_INBOX_PREFIX === undefined ? {} : { inboxPrefix: config.NATS_INBOX_PREFIX }),
    });
  } catch (err) {
    throw new UplineError(
      "BUS_UNAVAILABLE",
      `cannot connect to NATS at ${servers.join(",")}: ${(err as Error).message}`,
      {
        cause: err,
      },
    );
  }
  log.info({ server: nc.getServer() }, "connected to NATS");
  void (async () => {
    for await (const status of nc.status()) {
      switch (status.type) {
        case "disconnect":
        case "reconnecting":
        case "staleConnection":
        case "slowConsumer":
        case "error":
          log.warn(
            { nats_status: status.type, server: "server" in status ? status.server : undefined },
            "NATS %s",
            status.type,
          );
          break;
        case "reconnect":
          log.info({ nats_status: status.type, server: status.server }, "NATS reconnected");
          break;
        default:
          log.debug({ nats_status: status.type }, "NATS %s", status.type);
      }
    }
  })();
  return nc;
}

/**
 * A new reply subject under the connection's inbox prefix (NATS_INBOX_PREFIX):
 * what to use instead of a bare `createInbox()`, which the server refuses when
 * each user may only subscribe to its own inboxes.
 */
export function connectionInbox(nc: NatsConnection): string {
  const options = (nc as { options?: { inboxPrefix?: string } }).options;
  return createInbox(options?.inboxPrefix);
}

// ---------------------------------------------------------------- encoding

/** Serializes a message after validating it; throws MESSAGE_INVALID before anything is sent. */
export function encodeMessage<S extends z.ZodType>(
  schema: S,
  message: z.input<S>,
  what: string,
): string {
  const result = schema.safeParse(message);
  if (!result.success) throw invalid(result.error, what, "refused at publish");
  return JSON.stringify(result.data);
}

/** Parses and validates a received body; throws MESSAGE_DECODE or MESSAGE_INVALID. */
export function decodeMessage<S extends z.ZodType>(
  schema: S,
  data: Uint8Array | string,
  what: string,
): z.output<S> {
  let raw: unknown;
  try {
    raw = JSON.parse(
      typeof data === "string"
        ? data
        : Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString("utf8"),
    );
  } catch (err) {
    throw new UplineError("MESSAGE_DECODE", `${what}: body is not valid JSON`, { cause: err });
  }
  const result = schema.safeParse(raw);
  if (!result.success) throw invalid(result.error, what, "refused at receipt");
  return result.data;
}

function invalid(error: z.ZodError, what: string, where: string): UplineError {
  const issues = error.issues.map(
    (i) => `${i.path.length > 0 ? i.path.join(".") : "(message)"}: ${i.message}`,
  );
  return new UplineError("MESSAGE_INVALID", `${what} ${where}: ${issues.slice(0, 5).join("; ")}`, {
    details: { issues },
  });
}

/** Maps a nats.js failure to a typed error. */
export function busError(err: unknown, what: string): UplineError {
  if (err instanceof UplineError) return err;
  const cause = err instanceof RequestError && err.cause ? err.cause : err;
  if (cause instanceof NoRespondersError || (err instanceof RequestError && err.isNoResponders())) {
    return new UplineError("BUS_NO_RESPONDERS", `${what}: no service is listening`, { cause: err });
  }
  if (cause instanceof TimeoutError)
    return new UplineError("BUS_TIMEOUT", `${what}: timed out`, { cause: err });
  if (cause instanceof PermissionViolationError) {
    return new UplineError("BUS_PERMISSION", `${what}: ${(cause as Error).message}`, {
      cause: err,
    });
  }
  if (cause instanceof ClosedConnectionError || cause instanceof DrainingConnectionError) {
    return new UplineError("BUS_UNAVAILABLE", `${what}: connection closed`, { cause: err });
  }
  return new UplineError("INTERNAL", `${what}: ${(err as Error)?.message ?? String(err)}`, {
    cause: err,
  });
}

// ---------------------------------------------------------------- publish

export interface PublishOptions {
  /** Stable id of the fact; JetStream drops a repeat inside the duplicate window. */
  readonly msgId?: string;
  /** Span name suffix (defaults to the subject). */
  readonly name?: string;
  readonly timeoutMs?: number;
}

/**
 * Publishes a validated message to a stream and waits for JetStream's ack.
 * Throws MESSAGE_INVALID (nothing sent) or PUBLISH_NOT_ACKED.
 */
export async function publishEvent<S extends z.ZodType>(
  js: JetStreamClient,
  subject: string,
  schema: S,
  message: z.input<S>,
  options: PublishOptions = {},
): Promise<PubAck> {
  const body = encodeMessage(schema, message, subject);
  return tracer.startActiveSpan(
    `publish ${options.name ?? subject}`,
    {
      kind: SpanKind.PRODUCER,
      attributes: { "messaging.system": "nats", "messaging.destination.name": subject },
    },
    async (span) => {
      try {
        const hdrs = injectTraceContext();
        return await js.publish(subject, body, {
          headers: hdrs,
          ...(options.msgId === undefined ? {} : { msgID: options.msgId }),
          ...(options.timeoutMs === undefined ? {} : { timeout: options.timeoutMs }),
        });
      } catch (err) {
        span.setStatus({ code: SpanStatusCode.ERROR });
        throw new UplineError(
          "PUBLISH_NOT_ACKED",
          `publish to ${subject} was not acknowledged: ${(err as Error).message}`,
          {
            cause: err,
          },
        );
      } finally {
        span.end();
      }
    },
  );
}

/** Publishes a validated message on core NATS (no stream, no ack). */
export function publishCore<S extends z.ZodType>(
  nc: NatsConnection,
  subject: string,
  schema: S,
  message: z.input<S>,
): void {
  const body = encodeMessage(schema, message, subject);
  try {
    nc.publish(subject, body, { headers: injectTraceContext() });
  } catch (err) {
    throw busError(err, `publish ${subject}`);
  }
}

export interface SubscribeOptions<S extends z.ZodType> {
  readonly subject: string;
  readonly queue?: string;
  readonly schema: S;
  /** Runs inside the publisher's trace context; a throw is logged and reported, never fatal. */
  readonly handler: (message: z.output<S>, ctx: RequestContext) => void | Promise<void>;
  readonly logger: Logger;
  /** Called for every message refused at receipt (MESSAGE_DECODE / MESSAGE_INVALID) or failed. */
  readonly onError?: (err: UplineError, ctx: RequestContext) => void;
  readonly name?: string;
}

/**
 * Subscribes to core-NATS events, validating each on receipt. Invalid messages
 * never reach the handler. Returns the same {@link Server} handle as `serve`.
 */
export function subscribe<S extends z.ZodType>(
  nc: NatsConnection,
  options: SubscribeOptions<S>,
): Server {
  const log = options.logger;
  const pending = new Set<Promise<void>>();
  const spanName = `receive ${options.name ?? options.subject}`;
  const handle = (msg: Msg): Promise<void> => {
    const ctx: RequestContext = { subject: msg.subject, headers: msg.headers };
    return context.with(extractTraceContext(msg.headers), () =>
      tracer.startActiveSpan(
        spanName,
        {
          kind: SpanKind.CONSUMER,
          attributes: { "messaging.system": "nats", "messaging.destination.name": msg.subject },
        },
        async (span) => {
          try {
            await options.handler(
              decodeMessage(options.schema, msg.data, `message on ${msg.subject}`),
              ctx,
            );
          } catch (err) {
            const typed =
              err instanceof UplineError
                ? err
                : new UplineError("INTERNAL", "the message could not be handled", { cause: err });
            span.setStatus({ code: SpanStatusCode.ERROR, message: typed.code });
            log.warn({ err: typed, subject: msg.subject, code: typed.code }, "message refused");
            options.onError?.(typed, ctx);
          } finally {
            span.end();
          }
        },
      ),
    );
  };
  const sub = nc.subscribe(options.subject, {
    ...(options.queue === undefined ? {} : { queue: options.queue }),
    callback: (err, msg) => {
      if (err) {
        log.error({ err, subject: options.subject }, "subscription failed");
        return;
      }
      const p = handle(msg);
      pending.add(p);
      void p.finally(() => pending.delete(p));
    },
  });
  return drainable(sub, pending);
}

function drainable(sub: Subscription, pending: Set<Promise<void>>): Server {
  let stopping: Promise<void> | undefined;
  return {
    inFlight: () => pending.size,
    stop: () => {
      stopping ??= (async () => {
        if (!sub.isClosed()) await sub.drain().catch(() => undefined);
        await Promise.allSettled([...pending]);
      })();
      return stopping;
    },
  };
}

// ---------------------------------------------------------------- request / reply

export interface RequestOptions {
  readonly timeoutMs?: number;
  readonly name?: string;
}

/**
 * Sends a validated request and returns the validated reply. A reply marked as
 * an error is rebuilt into the typed error the server threw.
 */
export async function request<Q extends z.ZodType, R extends z.ZodType>(
  nc: NatsConnection,
  subject: string,
  requestSchema: Q,
  replySchema: R,
  message: z.input<Q>,
  options: RequestOptions = {},
): Promise<z.output<R>> {
  const body = encodeMessage(requestSchema, message, subject);
  return tracer.startActiveSpan(
    `request ${options.name ?? subject}`,
    {
      kind: SpanKind.CLIENT,
      attributes: { "messaging.system": "nats", "messaging.destination.name": subject },
    },
    async (span) => {
      try {
        let reply: Msg;
        try {
          reply = await nc.request(subject, body, {
            timeout: options.timeoutMs ?? 5_000,
            headers: injectTraceContext(),
          });
        } catch (err) {
          throw busError(err, `request ${subject}`);
        }
        const errorCode = reply.headers?.get(ERROR_HEADER);
        if (errorCode) {
          const wire = safeWireError(reply.data, errorCode);
          throw UplineError.fromWire(wire);
        }
        return decodeMessage(replySchema, reply.data, `reply from ${subject}`);
      } catch (err) {
        span.setStatus({ code: SpanStatusCode.ERROR, message: (err as UplineError).code });
        throw err;
      } finally {
        span.end();
      }
    },
  );
}

function safeWireError(data: Uint8Array, code: string): WireError {
  try {
    const parsed = JSON.parse(new TextDecoder().decode(data)) as Partial<WireError>;
    return { code, message: typeof parsed.message === "string" ? parsed.message : code };
  } catch {
    return { code, message: code };
  }
}

/** What a request handler is given besides the validated request. */
export interface RequestContext {
  readonly subject: string;
  readonly headers: MsgHdrs | undefined;
}

export interface ServeOptions<Q extends z.ZodType, R extends z.ZodType> {
  readonly subject: string;
  readonly queue?: string;
  readonly requestSchema: Q;
  readonly replySchema: R;
  readonly handler: (request: z.output<Q>, ctx: RequestContext) => Promise<NoInfer<z.input<R>>>;
  readonly logger: Logger;
  /** Requests larger than this are refused with MESSAGE_TOO_LARGE (default 64 KiB). */
  readonly maxBytes?: number;
  /** Called for every refused or failed request, after the error reply is sent. */
  readonly onError?: (err: UplineError, ctx: RequestContext) => void;
  readonly name?: string;
  /**
   * A hand check tried on the parsed JSON before the schema, for hot paths:
   * the request when it can prove it valid, undefined to let the schema decide
   * (undefined never means "invalid", so refusals keep the schema's error).
   * It must accept only what the schema accepts, with the same output: test it
   * against the schema.
   */
  readonly fastCheck?: (raw: unknown) => z.output<Q> | undefined;
  /**
   * "always" (the default): a SERVER span per request. "traced": a span only for
   * requests that carry a `traceparent`, so an untraced hot path pays none.
   */
  readonly spans?: "always" | "traced";
}

export interface Server {
  /** Stops taking requests, then waits for the ones in flight. Safe to call twice. */
  readonly stop: () => Promise<void>;
  readonly inFlight: () => number;
}

/**
 * Serves request-reply on a subject (in a queue group). Invalid requests get an
 * error reply and never reach the handler; a handler's UplineError travels back
 * as `{code, message}`; anything else becomes INTERNAL and is logged.
 */
export function serve<Q extends z.ZodType, R extends z.ZodType>(
  nc: NatsConnection,
  options: ServeOptions<Q, R>,
): Server {
  const maxBytes = options.maxBytes ?? 65_536;
  const log = options.logger;
  const pending = new Set<Promise<void>>();
  const spanName = `handle ${options.name ?? options.subject}`;

  const decode = (msg: Msg): z.output<Q> => {
    const what = `request on ${msg.subject}`;
    if (options.fastCheck !== undefined) {
      let raw: unknown;
      try {
        raw = JSON.parse(
          Buffer.from(msg.data.buffer, msg.data.byteOffset, msg.data.byteLength).toString("utf8"),
        );
      } catch {
        raw = undefined; // decodeMessage names the error
      }
      const request = raw === undefined ? undefined : options.fastCheck(raw);
      if (request !== undefined) return request;
    }
    return decodeMessage(options.requestSchema, msg.data, what);
  };

  const answer = async (msg: Msg, ctx: RequestContext): Promise<Uint8Array | string> => {
    if (msg.data.byteLength > maxBytes) {
      throw new UplineError(
        "MESSAGE_TOO_LARGE",
        `request of ${msg.data.byteLength} bytes exceeds ${maxBytes}`,
      );
    }
    const reply = await options.handler(decode(msg), ctx);
    return encodeMessage(options.replySchema, reply, `reply on ${msg.subject}`);
  };

  const refuse = (msg: Msg, ctx: RequestContext, err: unknown, hdrs: MsgHdrs): UplineError => {
    const typed =
      err instanceof UplineError
        ? err
        : new UplineError("INTERNAL", "the request could not be handled", { cause: err });
    if (typed.code === "INTERNAL")
      log.error({ err, subject: msg.subject }, "request handler failed");
    hdrs.set(ERROR_HEADER, typed.code);
    msg.respond(JSON.stringify(typed.toWire()), { headers: hdrs });
    options.onError?.(typed, ctx);
    return typed;
  };

  const handle = async (msg: Msg): Promise<void> => {
    const ctx: RequestContext = { subject: msg.subject, headers: msg.headers };
    const parent = extractTraceContext(msg.headers);
    await context.with(parent, () =>
      tracer.startActiveSpan(
        spanName,
        {
          kind: SpanKind.SERVER,
          attributes: { "messaging.system": "nats", "messaging.destination.name": msg.subject },
        },
        async (span) => {
          try {
            msg.respond(await answer(msg, ctx), { headers: injectTraceContext() });
          } catch (err) {
            const typed = refuse(msg, ctx, err, injectTraceContext());
            span.setStatus({ code: SpanStatusCode.ERROR, message: typed.code });
          } finally {
            span.end();
          }
        },
      ),
    );
  };

  const handleUntraced = async (msg: Msg): Promise<void> => {
    const ctx: RequestContext = { subject: msg.subject, headers: msg.headers };
    try {
      msg.respond(await answer(msg, ctx));
    } catch (err) {
      refuse(msg, ctx, err, natsHeaders());
    }
  };
  const spanEvery = options.spans !== "traced";

  const sub: Subscription = nc.subscribe(options.subject, {
    ...(options.queue === undefined ? {} : { queue: options.queue }),
    callback: (err, msg) => {
      if (err) {
        log.error({ err, subject: options.subject }, "subscription failed");
        return;
      }
      const traced = spanEvery || msg.headers?.has("traceparent") === true;
      const p = (traced ? handle(msg) : handleUntraced(msg)).catch((e: unknown) =>
        log.error({ err: e }, "reply failed"),
      );
      pending.add(p);
      void p.finally(() => pending.delete(p));
    },
  });
  return drainable(sub, pending);
}

export { natsHeaders as headers };
