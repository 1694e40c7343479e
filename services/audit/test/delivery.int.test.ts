import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { AckPolicy, DeliverPolicy, jetstream, jetstreamManager } from "@nats-io/jetstream";
import { headers as natsHeaders } from "@nats-io/transport-node";
import { eventually, startNats } from "@upline/testkit";
import { headerBlockLacks, streamSequenceFromReply } from "../src/app.ts";
import { type Bus, openBus, publishMany, startAudit, tempDir, testConfig } from "./helpers.ts";

let bus: Bus;
let natsUrl: string;

before(async () => {
  const nats = await startNats();
  natsUrl = nats.url;
  bus = await openBus(natsUrl);
});

after(async () => {
  await bus?.close();
});

test("delivery - the stream sequence read from a real ack subject equals nats.js's info, redelivered too", async () => {
  await publishMany(bus, 200, 32);
  const stream = bus.subjects.streams.audit;
  const jsm = await jetstreamManager(bus.nc);
  await jsm.consumers.add(stream, {
    durable_name: "probe",
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
  });
  const consumer = await jetstream(bus.nc).consumers.get(stream, "probe");
  const seen = new Set<number>();
  let redelivered = 0;
  // First pass: every other message is given back, so the second pass reads redeliveries.
  for (let pass = 0; pass < 2; pass++) {
    const want = pass === 0 ? 200 : 100;
    const batch = await consumer.fetch({ max_messages: want, expires: 10_000 });
    let n = 0;
    for await (const m of batch) {
      // nats.js's message has `reply` (its JsMsg type does not declare it)
      const reply = (m as unknown as { readonly reply: string }).reply;
      const fromReply = streamSequenceFromReply(reply);
      assert.notEqual(fromReply, undefined, reply);
      assert.equal(fromReply, m.info.streamSequence, reply);
      if (m.info.redelivered) redelivered++;
      if (pass === 0 && m.info.streamSequence % 2 === 0) m.nak();
      else {
        seen.add(m.info.streamSequence);
        m.ack();
      }
      if (++n >= want) break;
    }
  }
  assert.equal(seen.size, 200);
  assert.equal(redelivered, 100);
});

test("delivery - every stored event is acknowledged once, before JetStream would redeliver it", async () => {
  // A bus of its own: the test above left a consumer on the first one's AUDIT stream.
  const own = await openBus(natsUrl);
  const dir = await tempDir();
  // Redelivery after 30 s: an ack that never went out would show as a pending ack, not a duplicate.
  const app = startAudit(own, await testConfig(dir.path, { AUDIT_ACK_WAIT_S: "30" }));
  try {
    await app.start();
    await publishMany(own, 3_000, 64);
    await eventually(() => app.status().stored === 3_000, { timeoutMs: 20_000 });
    const jsm = await jetstreamManager(own.nc);
    // Acked events leave the work-queue stream; none is pending or redelivered.
    await eventually(
      async () => {
        const info = await jsm.consumers.info(own.subjects.streams.audit, "audit-store");
        const stream = await jsm.streams.info(own.subjects.streams.audit);
        return (
          info.num_ack_pending === 0 && info.num_redelivered === 0 && stream.state.messages === 0
        );
      },
      { timeoutMs: 5_000 },
    );
    assert.equal(app.status().duplicates, 0);
  } finally {
    await app.stop();
    await own.close();
    await dir.remove();
  }
});

test("delivery - the raw header check finds traceparent only in the header block, never in the body", async () => {
  const own = await openBus(natsUrl);
  try {
    const js = jetstream(own.nc);
    const subject = own.subjects.audit.event("order-exec", "order_placed");
    const withTp = natsHeaders();
    withTp.set("traceparent", "00-0123456789abcdef0123456789abcdef-0123456789abcdef-01");
    const plain = (id: string) => {
      const h = natsHeaders();
      h.set("Nats-Msg-Id", id);
      return h;
    };
    const sent: [string, string, ReturnType<typeof natsHeaders> | undefined][] = [
      ["header has it", "{}", withTp],
      ["body has it", '{"note":"traceparent"}', plain("m-2")],
      ["no headers, body has it", '{"traceparent":1}', undefined],
      ["neither", "{}", plain("m-4")],
    ];
    for (const [, body, h] of sent) await js.publish(subject, body, h ? { headers: h } : {});
    const jsm = await jetstreamManager(own.nc);
    await jsm.consumers.add(own.subjects.streams.audit, {
      durable_name: "hdr",
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
    });
    const consumer = await jetstream(own.nc).consumers.get(own.subjects.streams.audit, "hdr");
    const needle = Buffer.from("traceparent");
    const got: boolean[] = [];
    for await (const m of await consumer.fetch({ max_messages: sent.length, expires: 10_000 })) {
      got.push(headerBlockLacks(m, needle));
      m.ack();
      if (got.length === sent.length) break;
    }
    assert.deepEqual(got, [false, true, true, true]);
  } finally {
    await own.close();
  }
});
