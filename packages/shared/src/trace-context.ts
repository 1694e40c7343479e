import { type MsgHdrs, headers as natsHeaders } from "@nats-io/transport-node";
import {
  type Context,
  context,
  defaultTextMapGetter,
  propagation,
  ROOT_CONTEXT,
  type SpanContext,
  type TextMapGetter,
  type TextMapSetter,
} from "@opentelemetry/api";

const setter: TextMapSetter<MsgHdrs> = {
  set(carrier, key, value) {
    carrier.set(key, value);
  },
};

const getter: TextMapGetter<MsgHdrs> = {
  keys: (carrier) => carrier.keys(),
  get: (carrier, key) => (carrier.has(key) ? carrier.get(key) : undefined),
};

/** Writes the active (or given) context's W3C `traceparent`/`tracestate` into NATS headers. */
export function injectTraceContext(
  headers: MsgHdrs = natsHeaders(),
  ctx: Context = context.active(),
): MsgHdrs {
  propagation.inject(ctx, headers, setter);
  return headers;
}

/** Reads W3C trace context from NATS headers into a context (the active one if absent). */
export function extractTraceContext(
  headers: MsgHdrs | undefined,
  base: Context = context.active(),
): Context {
  return headers ? propagation.extract(base, headers, getter) : base;
}

const NO_TRACE = "0".repeat(32);

/** The W3C `traceparent` of a span context, or undefined for the invalid (all-zero) one. */
export function traceparentOf(ctx: SpanContext): string | undefined {
  if (ctx.traceId === NO_TRACE) return undefined;
  return `00-${ctx.traceId}-${ctx.spanId}-${(ctx.traceFlags & 1) === 1 ? "01" : "00"}`;
}

/** A context whose remote parent is the given `traceparent` (for work resumed later, e.g. a fill). */
export function contextFromTraceparent(traceparent: string, base: Context = ROOT_CONTEXT): Context {
  return propagation.extract(base, { traceparent }, defaultTextMapGetter);
}
