/**
 * The acknowledged publisher's encoding and ack paths (slab-encoded header
 * block and payload, the fast ack reader) against a real JetStream: one
 * callback per message with its own ack, duplicates reported, headers and
 * payload stored byte for byte (also non-ASCII), CR/LF refused unsent,
 * no-stream and full-stream refusals; and the fast ack reader agrees with
 * JSON.parse. The inbox prefix is checked in js-publisher.int.test.ts.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { DiscardPolicy, jetstreamManager } from "@nats-io/jetstream";
import { type NatsConnection, headers as natsHeaders } from "@nats-io/transport-node";
import { startNats, uniqueNamespace } from "@upline/testkit";
import {
  connectBus,
  createLogger,
  createSubjects,
  ensureStreams,
  isUplineError,
} from "../src/index.ts";
import { createJsPublisher, readAckFast } from "../src/js-publisher.ts";

const quietLogger = createLogger({ service: "js-publisher-test", level: "silent" });

let nc: NatsConnection;
const subjects = createSubjects(uniqueNamespace("mdp"));

before(async () => {
  nc = await connectBus(
    { NATS_URL: (await startNats()).url },
    { name: "mdp-test", logger: quietLogger },
  );
  await ensureStreams(nc, subjects);
});
after(() => nc.drain());

const send = (
  p: ReturnType<typeof createJsPublisher>,
  subject: string,
  data: string,
  opts: Parameters<ReturnType<typeof createJsPublisher>["send"]>[2],
) =>
  new Promise<{ err: unknown; seq?: number; duplicate?: boolean; stream?: string }>((resolve) =>
    p.send(subject, data, opts, (err, ack) =>
      resolve({ err, seq: ack?.seq, duplicate: ack?.duplicate, stream: ack?.stream }),
    ),
  );

test("js publisher encoding - one callback per message with its own ack; duplicates reported; headers and payload stored as sent", async () => {
  const publisher = createJsPublisher(nc, { maxOutstanding: 64 });
  const subject = subjects.md.event("trade", "KRW-BTC");
  const traceparent = "00-0123456789abcdef0123456789abcdef-0123456789abcdef-00";
  // 3 000 messages through 64 slots, ids 0..99 sent twice: several slabs, waiters, duplicates.
  const results = await Promise.all(
    Array.from({ length: 3_000 }, (_, i) =>
      send(publisher, subject, `{"n":${i % 2_900},"pad":"${"x".repeat(i % 300)}"}`, {
        msgId: `m-${i % 2_900}`,
        traceparent,
      }),
    ),
  );
  assert.ok(results.every((r) => r.err === undefined && r.stream === subjects.streams.md));
  assert.equal(results.filter((r) => r.duplicate).length, 100);
  assert.equal(new Set(results.map((r) => r.seq)).size, 2_900);
  assert.equal(publisher.outstanding(), 0);
  const jsm = await jetstreamManager(nc);
  for (const i of [0, 1, 1_234, 2_899]) {
    const stored = await jsm.streams.getMessage(subjects.streams.md, {
      seq: results[i]?.seq as number,
    });
    assert.equal(stored?.header.get("Nats-Msg-Id"), `m-${i}`);
    assert.equal(stored?.header.get("traceparent"), traceparent);
    assert.equal(stored?.string(), `{"n":${i},"pad":"${"x".repeat(i % 300)}"}`);
  }
  // Non-ASCII in a header value or the payload: still stored byte for byte.
  const odd = await send(publisher, subject, '{"k":"é€😀"}', { msgId: "id-é" });
  assert.equal(odd.err, undefined);
  const stored = await jsm.streams.getMessage(subjects.streams.md, { seq: odd.seq as number });
  assert.equal(stored?.string(), '{"k":"é€😀"}');
  assert.equal(stored?.header.get("Nats-Msg-Id"), "id-é");
  // A MsgHdrs (sampled span context) still works and gets the Nats-Msg-Id.
  const h = natsHeaders();
  h.set("traceparent", traceparent.replace(/-00$/, "-01"));
  const withHdrs = await send(publisher, subject, "{}", { msgId: "with-hdrs", headers: h });
  const stored2 = await jsm.streams.getMessage(subjects.streams.md, {
    seq: withHdrs.seq as number,
  });
  assert.equal(stored2?.header.get("Nats-Msg-Id"), "with-hdrs");
  assert.equal(stored2?.header.get("traceparent"), traceparent.replace(/-00$/, "-01"));
  // CR/LF in a header value would break the protocol: refused at once, never sent.
  let refused: unknown;
  publisher.send(subject, "{}", { msgId: "bad\r\nX: y" }, (err) => {
    refused = err;
  });
  assert.ok(isUplineError(refused), "called back synchronously with an UplineError");
  publisher.send(subject, "{}", { msgId: "ok", traceparent: "a\nb" }, (err) => {
    refused = err;
  });
  assert.ok(isUplineError(refused));
  assert.equal(publisher.outstanding(), 0);
  await publisher.close();
});

test("js publisher encoding - no stream, and a full discard-new stream: PUBLISH_NOT_ACKED", async () => {
  const publisher = createJsPublisher(nc, { timeoutMs: 2_000 });
  await assert.rejects(publisher.publish(`${subjects.namespace}.nowhere`, "{}"), (err) =>
    isUplineError(err, "PUBLISH_NOT_ACKED"),
  );
  const jsm = await jetstreamManager(nc);
  const name = `${subjects.namespace}_FULL`;
  const subject = `${subjects.namespace}.full`;
  await jsm.streams.add({ name, subjects: [subject], max_msgs: 3, discard: DiscardPolicy.New });
  for (let i = 0; i < 3; i++) await publisher.publish(subject, `${i}`, { msgId: `f${i}` });
  await assert.rejects(
    publisher.publish(subject, "3", { msgId: "f3" }),
    (err) => isUplineError(err, "PUBLISH_NOT_ACKED") && /maximum messages/i.test(err.message),
  );
  assert.equal((await jsm.streams.info(name)).state.messages, 3);
  await publisher.close();
  // Closed: refused at once.
  await assert.rejects(publisher.publish(subject, "4"), (err) =>
    isUplineError(err, "BUS_UNAVAILABLE"),
  );
});

test("js publisher encoding - the fast ack reader agrees with JSON.parse or leaves the ack to it", () => {
  const enc = new TextEncoder();
  const accepted = [
    '{"stream":"ns_MD", "seq":1}',
    '{"stream":"ns_MD","seq":123456789}',
    '{"stream":"ns_MD", "seq":7,"duplicate": true}',
    '{"stream":"ns_MD", "seq":7,"duplicate":true}',
  ];
  const left = [
    '{"stream":"ns_MD", "seq":7,"duplicate": false}',
    '{"stream":"ns_MD", "seq":7, "domain":"hub"}',
    '{"error":{"code":503,"err_code":10077,"description":"maximum messages exceeded"}}',
    '{"stream":"ns_MD", "seq":01}',
    '{"stream":"ns_MD", "seq":-1}',
    '{"stream":"ns_MD", "seq":1.5}',
    '{"stream":"ns_MD", "seq":}',
    '{"stream":"", "seq":1}',
    '{"stream":" MD", "seq":1}',
    '{"stream":"a\\"b", "seq":1}',
    '{"stream":"ns_MD", "seq":1} ',
    '{"stream":"ns_MD", "seq":1}}',
    '{"stream":"ns_MD", "seq":12345678901234567}',
    '{"stream":"ns_MD"}',
    "",
    "}",
  ];
  for (const text of accepted) {
    const fast = readAckFast(enc.encode(text));
    const ref = JSON.parse(text);
    assert.deepEqual(
      fast,
      { stream: ref.stream, seq: ref.seq, duplicate: ref.duplicate === true },
      text,
    );
  }
  for (const text of left) assert.equal(readAckFast(enc.encode(text)), undefined, text);
  // Mutations of a real ack: whatever the fast reader accepts, JSON.parse reads the same way.
  const base = '{"stream":"ns_MD", "seq":4242,"duplicate": true}';
  const alphabet = '{}":, 0123456789tdse\\';
  let x = 1;
  for (let i = 0; i < 20_000; i++) {
    x = (x * 1_103_515_245 + 12_345) >>> 0;
    const at = x % base.length;
    const ch = alphabet[(x >>> 8) % alphabet.length] as string;
    const text =
      (x >>> 20) % 2 === 0
        ? base.slice(0, at) + ch + base.slice(at + 1)
        : base.slice(0, at) + base.slice(at + 1);
    const fast = readAckFast(enc.encode(text));
    if (fast === undefined) continue;
    const ref = JSON.parse(text);
    assert.ok(ref.error === undefined && ref.domain === undefined, text);
    assert.deepEqual(
      fast,
      { stream: ref.stream, seq: ref.seq, duplicate: ref.duplicate === true },
      text,
    );
  }
});
