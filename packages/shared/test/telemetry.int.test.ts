import { test } from "node:test";
import { trace } from "@opentelemetry/api";
import { startTelemetry } from "../src/index.ts";

test("telemetry - an unreachable collector never crashes the service; shutdown twice is safe", async () => {
  // Port 9 on loopback (discard) refuses connections here: the exporter fails, quietly.
  const telemetry = startTelemetry({ service: "t", endpoint: "http://127.0.0.1:9" });
  trace.getTracer("t").startActiveSpan("lost", (span) => span.end());
  await telemetry.shutdown();
  await telemetry.shutdown();
});
