import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { jetstream, jetstreamManager, RetentionPolicy, StorageType } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { context, trace } from "@opentelemetry/api";
import { eventually, Latch, startNats, uniqueNamespace } from "@upline/testkit";
import { z } from "zod";
import {
  connectBus,
  createLogger,
  createSubjects,
  decodeMessage,
  ensureStreams,
  extractTraceContext,
  InMemorySpanExporter,
  isUplineError,
  OrderIntent,
  OrderReply,
  publishEvent,
  request,
  serve,
  startTelemetry,
  Trade,
  UplineError,
} from "../src/index.ts";

const logger = createLogger({ service: "bus-test", level: "silent" });
const exporter = new InMemorySpanExporter();
const telemetry = startTelemetry({ service: "bus-test", spanExporter: exporter });
after(() => telemetry.shutdown());

const trade = (sid: string) => ({
  type: "trade" as const,
  market: "KRW-BTC",
  exchange_ts: 1_700_000_000_000,
  received_ts: 1_700_000_000_001,
  price: "95000000",
  volume: "0.01",
  side: "bid" as const,
  sequential_id: sid,
});

describe("bus against a real NATS server", () => {
  let nc: NatsConnection;
  const subjects = createSubjects(uniqueNamespace());

  before(async () => {
    const nats = await startNats();
    nc = await connectBus({ NATS_URL: nats.url }, { name: "bus-test", logger });
    await ensureStreams(nc, subjects);
  });
  after(() => nc.drain());

  test("a typed message published to a stream arrives validated and carries the publisher's trace id", async () => {
    const js = jetstream(nc);
    const subject = subjects.md.event("trade", "KRW-BTC");
    const tracer = trace.getTracer("test");
    let publisherTraceId = "";
    await tracer.startActiveSpan("strategy", async (span) => {
      publisherTraceId = span.spanContext().traceId;
      await publishEvent(js, subject, Trade, trade("1001"), { msgId: "trade-1001" });
      span.end();
    });
    const jsm = await jetstreamManager(nc);
    const msg = await jsm.streams.getMessage(subjects.streams.md, { last_by_subj: subject });
    assert.ok(msg, "message stored in MD");
    const received = decodeMessage(Trade, msg.data, subject);
    assert.deepEqual(received, trade("1001"));
    const ctx = extractTraceContext(msg.header, context.active());
    assert.equal(trace.getSpanContext(ctx)?.traceId, publisherTraceId);
    assert.match(publisherTraceId, /^[0-9a-f]{32}$/);
    assert.notEqual(publisherTraceId, "0".repeat(32));
    const publishSpan = exporter.getFinishedSpans().find((s) => s.name === `publish ${subject}`);
    assert.equal(publishSpan?.spanContext().traceId, publisherTraceId);
  });

  test("an invalid message is refused at publish with a typed error and nothing is sent", async () => {
    const js = jetstream(nc);
    const jsm = await jetstreamManager(nc);
    const subject = subjects.md.event("trade", "KRW-ETH");
    const before = (await jsm.streams.info(subjects.streams.md)).state.messages;
    await assert.rejects(
      publishEvent(js, subject, Trade, { ...trade("1"), price: 95000000 } as unknown as z.input<
        typeof Trade
      >),
      (err) => isUplineError(err, "MESSAGE_INVALID") && /price/.test(err.message),
    );
    assert.equal((await jsm.streams.info(subjects.streams.md)).state.messages, before);
  });

  test("an invalid request is refused at receipt with a typed error the caller can match on", async () => {
    const refused = new Latch(2);
    const codes: string[] = [];
    const server = serve(nc, {
      subject: subjects.orders.place,
      queue: subjects.orders.queue,
      requestSchema: OrderIntent,
      replySchema: OrderReply,
      logger,
      handler: async (intent) => ({
        status: "accepted" as const,
        client_order_id: intent.client_order_id,
        uuid: "u-1",
      }),
      onError: (err) => {
        codes.push(err.code);
        refused.countDown();
      },
    });
    try {
      // Bypass the client-side check: raw bytes that a broken strategy might send.
      const raw = await nc.request(
        subjects.orders.place,
        JSON.stringify({ client_order_id: "c1", price: 5 }),
        { timeout: 2_000 },
      );
      assert.equal(raw.headers?.get("Upline-Error"), "MESSAGE_INVALID");
      const notJson = await nc.request(subjects.orders.place, "{oops", { timeout: 2_000 });
      assert.equal(notJson.headers?.get("Upline-Error"), "MESSAGE_DECODE");
      await refused.wait();
      assert.deepEqual(codes, ["MESSAGE_INVALID", "MESSAGE_DECODE"]);

      const ok = await request(nc, subjects.orders.place, OrderIntent, OrderReply, {
        client_order_id: "c2",
        account: "main",
        market: "KRW-BTC",
        side: "ask",
        ord_type: "market",
        volume: "0.1",
      });
      assert.deepEqual(ok, { status: "accepted", client_order_id: "c2", uuid: "u-1" });
    } finally {
      await server.stop();
    }
  });

  test("serve's fastCheck answers what it proves and defers the rest to the schema; spans 'traced' spans only traced requests", async () => {
    const subject = subjects.orders.get;
    const schema = z.strictObject({ n: z.number().int() });
    const proved: unknown[] = [];
    const server = serve(nc, {
      subject,
      requestSchema: schema,
      replySchema: schema,
      logger,
      spans: "traced",
      // Proves only small positive integers; everything else is the schema's to judge.
      fastCheck: (raw) => {
        const n = (raw as { n?: unknown } | null)?.n;
        if (Number.isInteger(n) && (n as number) > 0 && Object.keys(raw as object).length === 1) {
          proved.push(raw);
          return { n: n as number };
        }
        return undefined;
      },
      handler: async ({ n }) => ({ n: n * 2 }),
    });
    const spanName = `handle ${subject}`;
    const spans = () => exporter.getFinishedSpans().filter((s) => s.name === spanName).length;
    try {
      const before = spans();
      // Untraced: the hand check answers, no span.
      const fast = await nc.request(subject, JSON.stringify({ n: 3 }), { timeout: 2_000 });
      assert.deepEqual(JSON.parse(new TextDecoder().decode(fast.data)), { n: 6 });
      assert.equal(proved.length, 1);
      // Not proved: the schema decides, valid (n = 0) and invalid (a string, an extra key).
      const zero = await nc.request(subject, JSON.stringify({ n: 0 }), { timeout: 2_000 });
      assert.deepEqual(JSON.parse(new TextDecoder().decode(zero.data)), { n: 0 });
      for (const bad of [{ n: "3" }, { n: 3, extra: 1 }]) {
        const r = await nc.request(subject, JSON.stringify(bad), { timeout: 2_000 });
        assert.equal(r.headers?.get("Upline-Error"), "MESSAGE_INVALID", JSON.stringify(bad));
      }
      const notJson = await nc.request(subject, "{oops", { timeout: 2_000 });
      assert.equal(notJson.headers?.get("Upline-Error"), "MESSAGE_DECODE");
      assert.equal(proved.length, 1);
      assert.equal(spans(), before, "no span for untraced requests");
      // Traced: same answer, and a SERVER span in the caller's trace.
      const tracer = trace.getTracer("test");
      let traceId = "";
      await tracer.startActiveSpan("caller", async (span) => {
        traceId = span.spanContext().traceId;
        assert.deepEqual(await request(nc, subject, schema, schema, { n: 4 }), { n: 8 });
        span.end();
      });
      await eventually(() => assert.equal(spans(), before + 1));
      const server = exporter
        .getFinishedSpans()
        .filter((s) => s.name === spanName)
        .at(-1);
      assert.equal(server?.spanContext().traceId, traceId);
    } finally {
      await server.stop();
    }
  });

  test("a handler's typed error is rebuilt on the caller's side; no responders is typed too", async () => {
    const subject = subjects.signer.sign;
    const server = serve(nc, {
      subject,
      requestSchema: z.strictObject({ n: z.number() }),
      replySchema: z.strictObject({ n: z.number() }),
      logger,
      handler: async ({ n }) => {
        if (n < 0) throw new UplineError("PUBLISH_NOT_ACKED", "audit is full");
        if (n === 0) throw new Error("bug");
        return { n: n * 2 };
      },
    });
    try {
      const schema = z.strictObject({ n: z.number() });
      assert.deepEqual(await request(nc, subject, schema, schema, { n: 2 }), { n: 4 });
      await assert.rejects(request(nc, subject, schema, schema, { n: -1 }), (err) => {
        return (
          isUplineError(err, "PUBLISH_NOT_ACKED") &&
          err.retryable &&
          err.message === "audit is full"
        );
      });
      await assert.rejects(request(nc, subject, schema, schema, { n: 0 }), (err) =>
        isUplineError(err, "INTERNAL"),
      );
    } finally {
      await server.stop();
    }
    await assert.rejects(
      request(
        nc,
        subjects.signer.admin("nobody"),
        z.object({}),
        z.object({}),
        {},
        { timeoutMs: 1_000 },
      ),
      (err) => isUplineError(err, "BUS_NO_RESPONDERS"),
    );
  });

  test("a duplicate Nats-Msg-Id inside the window is stored once", async () => {
    const js = jetstream(nc);
    const jsm = await jetstreamManager(nc);
    const subject = subjects.md.event("trade", "KRW-XRP");
    const first = await publishEvent(js, subject, Trade, trade("77"), { msgId: "KRW-XRP:77" });
    const second = await publishEvent(js, subject, Trade, trade("77"), { msgId: "KRW-XRP:77" });
    assert.equal(first.duplicate, false);
    assert.equal(second.duplicate, true);
    assert.equal(second.seq, first.seq);
    const info = await jsm.streams.info(subjects.streams.md, { subjects_filter: subject });
    assert.equal(info.state.subjects?.[subject], 1);
  });

  test("ensureStreams twice is a no-op", async () => {
    const again = await ensureStreams(nc, subjects);
    assert.deepEqual(again.created, []);
    assert.deepEqual(again.updated, []);
    assert.equal(again.unchanged.length, 5);
  });

  test("ensureStreams on a conflicting stream fails with a clear error", async () => {
    const jsm = await jetstreamManager(nc);
    const other = createSubjects(uniqueNamespace("c"));
    // Someone created AUDIT by hand with memory storage and limits retention.
    await jsm.streams.add({
      name: other.streams.audit,
      subjects: [other.audit.all],
      storage: StorageType.Memory,
      retention: RetentionPolicy.Limits,
    });
    await assert.rejects(ensureStreams(nc, other), (err) => {
      return (
        isUplineError(err, "STREAM_CONFLICT") &&
        err.message.includes(other.streams.audit) &&
        /storage is memory, want file/.test(err.message) &&
        /retention is limits, want workqueue/.test(err.message)
      );
    });
    // A stream of another name already holding our subjects is a conflict too.
    const third = createSubjects(uniqueNamespace("d"));
    await jsm.streams.add({
      name: "squatter_" + third.namespace,
      subjects: [third.orders.eventsAll],
    });
    await assert.rejects(
      ensureStreams(nc, third),
      (err) => isUplineError(err, "STREAM_CONFLICT") && /overlap/.test(err.message),
    );
  });
});

describe("bus across a NATS restart", () => {
  test("a connected client reconnects and a JetStream publish after the restart is acknowledged", async () => {
    const nats = await startNats({ dedicated: true });
    const nc = await connectBus({ NATS_URL: nats.url }, { name: "restart-test", logger });
    try {
      const subjects = createSubjects(uniqueNamespace());
      await ensureStreams(nc, subjects);
      const js = jetstream(nc);
      const subject = subjects.md.event("trade", "KRW-BTC");
      const beforeAck = await publishEvent(js, subject, Trade, trade("1"), { msgId: "a" });
      assert.equal(beforeAck.seq, 1);

      const reconnected = new Latch(1);
      void (async () => {
        for await (const s of nc.status()) if (s.type === "reconnect") reconnected.countDown();
      })();
      await nats.restart();
      await reconnected.wait(30_000);

      // The stream lives on the server's disk, so it survives; the publish is acknowledged.
      const afterAck = await eventually(
        () => publishEvent(js, subject, Trade, trade("2"), { msgId: "b", timeoutMs: 2_000 }),
        {
          timeoutMs: 30_000,
        },
      );
      assert.equal(afterAck.stream, subjects.streams.md);
      assert.equal(afterAck.seq, 2);
    } finally {
      await nc.close();
      await nats.stop();
    }
  });
});
