/**
 * Publishing order events in their order's trace. An event published while a
 * request is handled carries that request's trace, and the trace is remembered
 * by order uuid and client_order_id; an event that arrives later on its own —
 * a fill from the private WebSocket — is published in the remembered trace, so
 * an order's whole life is one trace. Memory is bounded (oldest forgotten).
 */
import { context, SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
import {
  contextFromTraceparent,
  type JsPublisher,
  type OrderEvent,
  type Subjects,
  traceparentOf,
  type UplineError,
} from "@upline/shared";
import { encodeOrderEvent } from "./fast-encode.ts";

const tracer = trace.getTracer("@upline/order-exec");

export interface OrderEventPublisher {
  readonly publish: (event: OrderEvent) => Promise<void>;
  /**
   * Remembers the active trace for an order about to be sent, before anything
   * about it can come back on the private WebSocket.
   */
  readonly remember: (order: Pick<OrderEvent, "account" | "client_order_id" | "uuid">) => void;
}

export function createOrderEventPublisher(
  publisher: JsPublisher,
  subjects: Subjects,
  capacity = 50_000,
): OrderEventPublisher {
  const traces = new Map<string, string>();
  const keys = (e: Pick<OrderEvent, "account" | "client_order_id" | "uuid">) => [
    ...(e.uuid === undefined ? [] : [`u:${e.uuid}`]),
    ...(e.client_order_id === undefined ? [] : [`c:${e.account}:${e.client_order_id}`]),
  ];
  const remember = (
    e: Pick<OrderEvent, "account" | "client_order_id" | "uuid">,
    traceparent: string,
  ) => {
    for (const k of keys(e)) {
      traces.delete(k);
      traces.set(k, traceparent);
    }
    while (traces.size > capacity) traces.delete(traces.keys().next().value as string);
  };
  const recall = (e: OrderEvent) => {
    // Nothing remembered (no tracing): no keys to build.
    if (traces.size === 0) return undefined;
    for (const k of keys(e)) {
      const tp = traces.get(k);
      if (tp !== undefined) return tp;
    }
    return undefined;
  };

  const publish = async (e: OrderEvent): Promise<void> => {
    const subject = subjects.orders.events(e.market);
    const body = encodeOrderEvent(e, subject);
    const active = trace.getActiveSpan();
    let ctx = context.active();
    if (active !== undefined) {
      const tp = traceparentOf(active.spanContext());
      if (tp !== undefined) remember(e, tp);
    } else {
      const tp = recall(e);
      if (tp !== undefined) ctx = contextFromTraceparent(tp);
    }
    const spanContext = trace.getSpanContext(ctx);
    if (spanContext === undefined || (spanContext.traceFlags & 1) === 0) {
      // Not sampled: no span, but a known trace still travels in the headers.
      const tp = spanContext === undefined ? undefined : traceparentOf(spanContext);
      await publisher.publish(subject, body, {
        msgId: e.id,
        ...(tp === undefined ? {} : { traceparent: tp }),
      });
      return;
    }
    await tracer.startActiveSpan(
      `publish ${subject}`,
      {
        kind: SpanKind.PRODUCER,
        attributes: {
          "messaging.system": "nats",
          "order.event_type": e.type,
          "order.event_id": e.id,
        },
      },
      ctx,
      async (span) => {
        try {
          const tp = traceparentOf(span.spanContext());
          await publisher.publish(subject, body, {
            msgId: e.id,
            ...(tp === undefined ? {} : { traceparent: tp }),
          });
        } catch (err) {
          span.setStatus({ code: SpanStatusCode.ERROR, message: (err as UplineError).code });
          throw err;
        } finally {
          span.end();
        }
      },
    );
  };

  return {
    publish,
    remember: (order) => {
      const active = trace.getActiveSpan();
      const tp = active === undefined ? undefined : traceparentOf(active.spanContext());
      if (tp !== undefined) remember(order, tp);
    },
  };
}
