import assert from "node:assert/strict";
import { after, test } from "node:test";
import { jetstream } from "@nats-io/jetstream";
import { createLogger, InMemorySpanExporter, startTelemetry } from "@upline/shared";
import { eventually, startNats, uniqueNamespace } from "@upline/testkit";
import { startSim } from "@upline/upbit-sim";
import { connectTest, feedConfig, prepareStreams, startFeed } from "./helpers.ts";

const cleanups: (() => Promise<unknown>)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => {});
});

test("market-feed - a sampled publish has a PRODUCER span with the exchange→publish latency, and its traceparent is in the message headers", async () => {
  const exporter = new InMemorySpanExporter();
  const telemetry = startTelemetry({
    service: "market-feed",
    spanExporter: exporter,
    logger: createLogger({ service: "market-feed", level: "silent" }),
  });
  cleanups.push(() => telemetry.shutdown());
  const nats = await startNats();
  const nc = await connectTest(nats.url);
  cleanups.push(() => nc.drain());
  const sim = await startSim({ port: 0, seed: 2, markets: ["KRW-BTC"], tradesPerTick: 1 });
  cleanups.push(() => sim.stop());
  const ns = uniqueNamespace("mft");
  const subjects = await prepareStreams(nc, ns);
  const config = feedConfig(nats.url, ns, sim, {
    FEED_MARKETS: "KRW-BTC",
    FEED_CHANNELS: "trade",
    FEED_TRACE_SAMPLE_RATIO: "1",
  });
  const feed = startFeed(config, nc, subjects);
  cleanups.push(() => feed.stop());
  await feed.start();
  await eventually(() => feed.health().every((h) => h.state !== "disconnected"));
  sim.admin.tick(1);
  const span = await eventually(
    () => exporter.getFinishedSpans().find((s) => s.name === "md publish trade") ?? false,
  );
  assert.equal(typeof span.attributes["upline.md.exchange_to_publish_ms"], "number");
  const js = jetstream(nc);
  const msg = await eventually(async () => {
    const m = await (await js.consumers.get(subjects.streams.md)).next({ expires: 1000 });
    assert.ok(m);
    return m;
  });
  const traceparent = msg.headers?.get("traceparent") ?? "";
  assert.match(traceparent, /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
  assert.equal(traceparent.split("-")[1], span.spanContext().traceId);
  assert.match(msg.headers?.get("Nats-Msg-Id") ?? "", /^KRW-BTC:trade:\d+$/);
});
