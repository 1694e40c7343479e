import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { DiscardPolicy, jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { eventually, startNats, uniqueNamespace } from "@upline/testkit";
import {
  connectBus,
  createJsPublisher,
  createLogger,
  createSubjects,
  ensureStreams,
  isUplineError,
} from "../src/index.ts";

const logger = createLogger({ service: "jsp-test", level: "silent" });
let nc: NatsConnection;
const subjects = createSubjects(uniqueNamespace());

before(async () => {
  nc = await connectBus({ NATS_URL: (await startNats()).url }, { name: "jsp-test", logger });
  await ensureStreams(nc, subjects);
});
after(() => nc.drain());

test("js publisher - every publish resolves with its own ack once the stream has stored it", async () => {
  const publisher = createJsPublisher(nc, { maxOutstanding: 64 });
  const subject = subjects.md.event("trade", "KRW-BTC");
  const acks = await Promise.all(
    Array.from({ length: 2_000 }, (_, i) =>
      publisher.publish(subject, `{"n":${i}}`, { msgId: `m-${i}` }),
    ),
  );
  assert.equal(acks.length, 2_000);
  assert.ok(acks.every((a) => a.stream === subjects.streams.md && !a.duplicate));
  assert.equal(new Set(acks.map((a) => a.seq)).size, 2_000);
  assert.ok(publisher.outstanding() === 0);
  const info = await (await jetstreamManager(nc)).streams.info(subjects.streams.md, {
    subjects_filter: subject,
  });
  assert.equal(info.state.subjects?.[subject], 2_000);
  await publisher.close();
});

test("js publisher - a repeated Nats-Msg-Id is acknowledged as a duplicate and stored once", async () => {
  const publisher = createJsPublisher(nc);
  const subject = subjects.md.event("trade", "KRW-ETH");
  const first = await publisher.publish(subject, "{}", { msgId: "same" });
  const second = await publisher.publish(subject, "{}", { msgId: "same" });
  assert.equal(first.duplicate, false);
  assert.equal(second.duplicate, true);
  assert.equal(second.seq, first.seq);
  await publisher.close();
});

test("js publisher - a subject no stream stores is refused with PUBLISH_NOT_ACKED", async () => {
  const publisher = createJsPublisher(nc, { timeoutMs: 2_000 });
  await assert.rejects(publisher.publish(`${subjects.namespace}.nowhere`, "{}"), (err) =>
    isUplineError(err, "PUBLISH_NOT_ACKED"),
  );
  await publisher.close();
});

test("js publisher - a full discard-new stream refuses new messages instead of dropping old ones", async () => {
  const jsm = await jetstreamManager(nc);
  const name = `${subjects.namespace}_FULL`;
  const subject = `${subjects.namespace}.full`;
  await jsm.streams.add({ name, subjects: [subject], max_msgs: 3, discard: DiscardPolicy.New });
  const publisher = createJsPublisher(nc);
  for (let i = 0; i < 3; i++) await publisher.publish(subject, `${i}`);
  await assert.rejects(
    publisher.publish(subject, "3"),
    (err) => isUplineError(err, "PUBLISH_NOT_ACKED") && /maximum messages/i.test(err.message),
  );
  assert.equal((await jsm.streams.info(name)).state.messages, 3);
  await publisher.close();
});

test("js publisher - send() calls back once per message; msgId + traceparent go out as headers", async () => {
  const publisher = createJsPublisher(nc, { maxOutstanding: 8 });
  const subject = subjects.md.event("trade", "KRW-XRP");
  const traceparent = "00-0123456789abcdef0123456789abcdef-0123456789abcdef-00";
  const results = await Promise.all(
    Array.from(
      { length: 50 },
      (_, i) =>
        new Promise<{ err: unknown; seq: number | undefined; duplicate: boolean | undefined }>(
          (resolve) =>
            publisher.send(
              subject,
              `{"n":${i}}`,
              { msgId: `tp-${i % 40}`, traceparent },
              (err, ack) => resolve({ err, seq: ack?.seq, duplicate: ack?.duplicate }),
            ),
        ),
    ),
  );
  assert.ok(results.every((r) => r.err === undefined && typeof r.seq === "number"));
  assert.equal(results.filter((r) => r.duplicate).length, 10, "ids 0..9 were sent twice");
  const jsm = await jetstreamManager(nc);
  const first = results[0]?.seq as number;
  const stored = await jsm.streams.getMessage(subjects.streams.md, { seq: first });
  assert.equal(stored?.header.get("Nats-Msg-Id"), "tp-0");
  assert.equal(stored?.header.get("traceparent"), traceparent);
  // A header value with CR/LF would break the protocol: refused at once, never sent.
  let refused: unknown;
  publisher.send(subject, "{}", { msgId: "bad\r\nX: y" }, (err) => {
    refused = err;
  });
  assert.ok(isUplineError(refused), "called back synchronously with an UplineError");
  assert.equal(publisher.outstanding(), 0);
  await publisher.close();
});

test("js publisher - acks come back under the connection's inbox prefix (per-user inbox permissions)", async () => {
  const nats = await startNats();
  const prefixed = await connectBus(
    { NATS_URL: nats.url, NATS_INBOX_PREFIX: "_INBOX.jsp-test" },
    { name: "jsp-prefixed", logger },
  );
  try {
    const seen: string[] = [];
    const spy = nc.subscribe("_INBOX.jsp-test.>", {
      callback: (_e, m) => {
        seen.push(m.subject);
      },
    });
    await nc.flush();
    const publisher = createJsPublisher(prefixed);
    const ack = await publisher.publish(subjects.md.event("trade", "KRW-XRP"), "{}", {
      msgId: "prefixed-1",
    });
    assert.equal(ack.stream, subjects.streams.md);
    // The spy is on another connection: it may see the ack after the publish resolved.
    await eventually(() => seen.length > 0, { message: "the ack seen under the prefix" });
    assert.ok(
      seen.every((s) => s.startsWith("_INBOX.jsp-test.")),
      seen.join(","),
    );
    spy.unsubscribe();
    await publisher.close();
  } finally {
    await prefixed.drain();
  }
});
