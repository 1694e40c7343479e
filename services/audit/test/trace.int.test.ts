import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { trace } from "@opentelemetry/api";
import {
  createFastAuditPublisher,
  createJsPublisher,
  InMemorySpanExporter,
  startTelemetry,
} from "@upline/shared";
import { eventually, startNats, startPostgres } from "@upline/testkit";
import type { AuditApp } from "../src/index.ts";
import { type Bus, openBus, startAudit, tempDir, testConfig } from "./helpers.ts";

const exporter = new InMemorySpanExporter();
const telemetry = startTelemetry({ service: "audit-trace-test", spanExporter: exporter });
let bus: Bus;
let app: AuditApp;
let dir: Awaited<ReturnType<typeof tempDir>>;

before(async () => {
  const [nats, postgres] = await Promise.all([startNats(), startPostgres()]);
  bus = await openBus(nats.url);
  dir = await tempDir();
  app = startAudit(
    bus,
    await testConfig(dir.path, { DATABASE_URL: await postgres.createDatabase("audittrace") }),
  );
  await app.start();
});

after(async () => {
  await app?.stop();
  await bus?.close();
  await dir?.remove();
  await telemetry.shutdown();
});

test("audit - an event published inside a sampled trace is stored under a span of that trace, child of its publish span", async () => {
  const js = createJsPublisher(bus.nc);
  const audit = createFastAuditPublisher(js, bus.subjects, "order-exec");
  let traceId = "";
  let eventId = "";
  await trace.getTracer("test").startActiveSpan("place order", async (root) => {
    traceId = root.spanContext().traceId;
    const { event } = await audit.record({
      kind: "order_sent",
      outcome: "ok",
      data: { client_order_id: "c-1" },
    });
    eventId = event.id;
    assert.equal(event.trace_id, traceId, "the event carries the trace id");
    root.end();
  });
  // Unsampled and untraced events are stored without a span.
  await audit.record({ kind: "order_sent", outcome: "ok", data: { client_order_id: "c-2" } });

  const store = await eventually(
    () => exporter.getFinishedSpans().find((s) => s.name === "audit store order_sent") ?? false,
    {
      message: "store span exported",
    },
  );
  const publish = exporter.getFinishedSpans().find((s) => s.name === "audit publish order_sent");
  assert.ok(publish, "publish span exported");
  assert.equal(publish.spanContext().traceId, traceId);
  assert.equal(store.spanContext().traceId, traceId);
  assert.equal(store.parentSpanContext?.spanId, publish.spanContext().spanId);
  assert.equal(store.attributes["audit.event_id"], eventId);
  assert.equal(store.attributes["audit.stored"], true);
  assert.equal(typeof store.attributes["audit.seq"], "number");
  assert.equal(
    exporter.getFinishedSpans().filter((s) => s.name.startsWith("audit store")).length,
    1,
  );
  await js.close();
});
