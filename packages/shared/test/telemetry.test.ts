import assert from "node:assert/strict";
import { Writable } from "node:stream";
import { test } from "node:test";
import { trace } from "@opentelemetry/api";
import { createLogger, InMemorySpanExporter, startTelemetry } from "../src/index.ts";

test("log - lines carry trace_id and span_id while a span is active, and not otherwise", async () => {
  const exporter = new InMemorySpanExporter();
  const telemetry = startTelemetry({ service: "t", spanExporter: exporter });
  try {
    const lines: Record<string, unknown>[] = [];
    const destination = new Writable({
      write(chunk, _e, done) {
        lines.push(JSON.parse(chunk.toString()));
        done();
      },
    });
    const logger = createLogger({ service: "t", destination });
    logger.info("outside");
    let ids = { traceId: "", spanId: "" };
    trace.getTracer("t").startActiveSpan("work", (span) => {
      ids = span.spanContext();
      logger.child({ component: "c" }).info("inside");
      span.end();
    });
    assert.equal(lines[0]?.trace_id, undefined);
    assert.equal(lines[1]?.trace_id, ids.traceId);
    assert.equal(lines[1]?.span_id, ids.spanId);
    assert.equal(lines[1]?.component, "c");
    assert.equal(exporter.getFinishedSpans()[0]?.name, "work");
  } finally {
    await telemetry.shutdown();
  }
});
