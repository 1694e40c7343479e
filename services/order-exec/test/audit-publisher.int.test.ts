/**
 * order-exec's audit publisher against real nats-server and stream AUDIT:
 * what it stores (subject, `Nats-Msg-Id`, `traceparent`, body) is what the
 * shared schema path would store, the event it resolves with is the stored
 * one, secrets are redacted, the active trace is carried, and refusals and
 * send failures are rejections (never a synchronous throw).
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { type JetStreamManager, jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import {
  type Context,
  type ContextManager,
  context,
  ROOT_CONTEXT,
  TraceFlags,
  trace,
} from "@opentelemetry/api";
import {
  AuditEvent,
  connectBus,
  createJsPublisher,
  createSubjects,
  encodeMessage,
  ensureStreams,
  type JsPublisher,
  redactAuditData,
} from "@upline/shared";
import { startNats, uniqueNamespace } from "@upline/testkit";
import { createOrderAuditPublisher } from "../src/fast-encode.ts";
import { intentAuditData } from "./fixtures.ts";
import { logger } from "./harness.ts";

/** A synchronous context manager: enough for `record`, which reads the active span when called. */
class StackContextManager implements ContextManager {
  #current: Context = ROOT_CONTEXT;
  active(): Context {
    return this.#current;
  }
  with<A extends unknown[], F extends (...args: A) => ReturnType<F>>(
    ctx: Context,
    fn: F,
    thisArg?: ThisParameterType<F>,
    ...args: A
  ): ReturnType<F> {
    const prev = this.#current;
    this.#current = ctx;
    try {
      return fn.call(thisArg, ...args);
    } finally {
      this.#current = prev;
    }
  }
  bind<T>(_ctx: Context, target: T): T {
    return target;
  }
  enable(): this {
    return this;
  }
  disable(): this {
    return this;
  }
}

const subjects = createSubjects(uniqueNamespace());
let nc: NatsConnection;
let jsm: JetStreamManager;
let publisher: JsPublisher;
const NOW = Date.UTC(2026, 10, 22, 7, 30, 0, 123);

before(async () => {
  context.setGlobalContextManager(new StackContextManager());
  const nats = await startNats();
  nc = await connectBus({ NATS_URL: nats.url }, { name: "audit-publisher", logger });
  await ensureStreams(nc, subjects);
  jsm = await jetstreamManager(nc);
  publisher = createJsPublisher(nc);
});
after(async () => {
  context.disable();
  await publisher.close();
  await nc.drain();
});

const intentData = intentAuditData;

const stored = async (seq: number) => {
  const m = await jsm.streams.getMessage(subjects.streams.audit, { seq });
  assert.ok(m !== null);
  return m;
};

test("audit publisher - stored bytes, id and subject are the schema path's, on hand-built and redacted records", async () => {
  const audit = createOrderAuditPublisher(publisher, subjects, "order-exec", () => NOW);
  const records = [
    { kind: "order_submit", outcome: "ok" as const, data: intentData },
    {
      kind: "order_response",
      outcome: "error" as const,
      data: { ...intentData, status: "rejected", code: "UPBIT_REST_REJECTED", uuid: undefined },
    },
    // Not for the hand path: a secret-named key, a bearer token, nesting, an actor.
    {
      kind: "order_refused",
      outcome: "denied" as const,
      actor: 'ops "anna"',
      data: {
        token: "abc",
        note: "Bearer abc.def",
        nested: { jwt: "x", n: [1, "eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJlc2ln"] },
      },
    },
  ];
  const ids = new Set<string>();
  for (const r of records) {
    const { event, ack } = await audit.record(r);
    const m = await stored(ack.seq);
    assert.equal(m.subject, subjects.audit.event("order-exec", r.kind));
    assert.equal(m.header.get("Nats-Msg-Id"), event.id);
    assert.equal(m.header.has("traceparent"), false);
    ids.add(event.id);
    const expected: AuditEvent = {
      id: event.id,
      ts: new Date(NOW).toISOString(),
      service: "order-exec",
      kind: r.kind,
      outcome: r.outcome,
      ...("actor" in r ? { actor: r.actor } : {}),
      data: redactAuditData(r.data),
    };
    const body = encodeMessage(AuditEvent, expected, m.subject);
    assert.equal(m.string(), body);
    // The resolved event is the stored one, keys in the same order.
    assert.equal(JSON.stringify(event), body);
  }
  assert.equal(ids.size, records.length);
  const secret = await stored((await audit.record(records[2] as (typeof records)[2])).ack.seq);
  assert.doesNotMatch(secret.string(), /abc|eyJhbGci/);
});

test("audit publisher - an active span's trace id is recorded and its traceparent sent", async () => {
  const audit = createOrderAuditPublisher(publisher, subjects, "order-exec", () => NOW);
  const traceId = "0af7651916cd43dd8448eb211c80319c";
  const spanId = "b7ad6b7169203331";
  const span = trace.wrapSpanContext({ traceId, spanId, traceFlags: TraceFlags.NONE });
  const pending = context.with(trace.setSpan(ROOT_CONTEXT, span), () =>
    audit.record({ kind: "order_submit", outcome: "ok", data: intentData }),
  );
  const { event, ack } = await pending;
  assert.equal(event.trace_id, traceId);
  const m = await stored(ack.seq);
  assert.equal(m.header.get("traceparent"), `00-${traceId}-${spanId}-00`);
  const body = m.string();
  assert.equal(JSON.stringify(event), body);
  assert.equal((JSON.parse(body) as AuditEvent).trace_id, traceId);
  // The all-zero trace id of an invalid context is not recorded.
  const invalid = trace.wrapSpanContext({
    traceId: "0".repeat(32),
    spanId,
    traceFlags: TraceFlags.NONE,
  });
  const r2 = await context.with(trace.setSpan(ROOT_CONTEXT, invalid), () =>
    audit.record({ kind: "order_submit", outcome: "ok", data: intentData }),
  );
  assert.equal("trace_id" in r2.event, false);
  assert.doesNotMatch((await stored(r2.ack.seq)).string(), /trace_id/);
});

test("audit publisher - a refused kind and a closed publisher reject, never throw", async () => {
  const audit = createOrderAuditPublisher(publisher, subjects, "order-exec", () => NOW);
  let bad: Promise<unknown> | undefined;
  assert.doesNotThrow(() => {
    bad = audit.record({ kind: "no such kind", outcome: "ok", data: {} });
  });
  await assert.rejects(bad as Promise<unknown>);
  const closedNc = await connectBus(
    { NATS_URL: `nats://${nc.getServer()}` },
    { name: "audit-publisher-closed", logger },
  );
  const closed = createJsPublisher(closedNc);
  await closed.close();
  const gone = createOrderAuditPublisher(closed, subjects, "order-exec", () => NOW);
  await assert.rejects(gone.record({ kind: "order_submit", outcome: "ok", data: intentData }), {
    code: "BUS_UNAVAILABLE",
  });
  await closedNc.drain();
});
