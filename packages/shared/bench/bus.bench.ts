/**
 * Baselines every service benchmark compares itself with: bare NATS
 * request-reply echo and JetStream publish rates on this machine.
 */
import { jetstream } from "@nats-io/jetstream";
import {
  cpuMeter,
  emitBench,
  measureLatency,
  rssMb,
  startNats,
  uniqueNamespace,
} from "@upline/testkit";
import {
  connectBus,
  createJsPublisher,
  createLogger,
  createSubjects,
  ensureStreams,
} from "../src/index.ts";

const logger = createLogger({ service: "bench", level: "warn" });
const nats = await startNats();
const nc = await connectBus({ NATS_URL: nats.url }, { name: "bench-bus", logger });
const subjects = createSubjects(uniqueNamespace("b"));
await ensureStreams(nc, subjects);

const echoSubject = `${subjects.namespace}.bench.echo`;
nc.subscribe(echoSubject, {
  callback: (_e, m) => {
    m.respond(m.data);
  },
});
const payload = JSON.stringify({ pad: "x".repeat(256) });

const echo1 = await measureLatency(() => nc.request(echoSubject, payload), {
  total: 20_000,
  concurrency: 1,
});
const echo32 = await measureLatency(() => nc.request(echoSubject, payload), {
  total: 50_000,
  concurrency: 32,
});

const js = jetstream(nc);
const subject = subjects.md.event("trade", "KRW-BTC");
const cpu = cpuMeter();
const pub = await measureLatency(() => js.publish(subject, payload), {
  total: 50_000,
  concurrency: 256,
});

const fast = createJsPublisher(nc, { maxOutstanding: 1024 });
const cpuFast = cpuMeter();
const fastPub = await measureLatency(() => fast.publish(subject, payload), {
  total: 200_000,
  concurrency: 1024,
});
await fast.close();

emitBench([
  {
    suite: "baseline",
    kind: "baseline",
    name: "NATS request-reply echo, 1 in flight",
    ...echo1,
    rss_mb: rssMb(),
  },
  { suite: "baseline", kind: "baseline", name: "NATS request-reply echo, 32 in flight", ...echo32 },
  {
    suite: "baseline",
    kind: "baseline",
    name: "JetStream js.publish, 256 in flight",
    ...pub,
    cpu_pct: cpu(),
  },
  {
    suite: "baseline",
    kind: "baseline",
    name: "JetStream createJsPublisher (core publish, acks on one inbox), 1024 in flight",
    ...fastPub,
    cpu_pct: cpuFast(),
  },
]);
await nc.drain();
await nats.stop();
