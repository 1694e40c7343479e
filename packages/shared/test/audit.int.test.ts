import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { startNats, uniqueNamespace } from "@upline/testkit";
import {
  AuditEvent,
  connectBus,
  createFastAuditPublisher,
  createJsPublisher,
  createLogger,
  createSubjects,
  defaultStreamLimits,
  ensureStreams,
  isUplineError,
} from "../src/index.ts";

const logger = createLogger({ service: "audit-test", level: "silent" });
let nc: NatsConnection;

before(async () => {
  nc = await connectBus({ NATS_URL: (await startNats()).url }, { name: "audit-test", logger });
});
after(() => nc.drain());

test("audit - the fast publisher resolves only with JetStream's ack, redacted, with the event id as Nats-Msg-Id", async () => {
  const subjects = createSubjects(uniqueNamespace());
  await ensureStreams(nc, subjects);
  const jsp = createJsPublisher(nc, { maxOutstanding: 64 });
  const audit = createFastAuditPublisher(jsp, subjects, "signer");
  const results = await Promise.all(
    Array.from({ length: 500 }, (_, i) =>
      audit.record({ kind: "sign", outcome: "ok", actor: "t", data: { n: i, secret_key: "s" } }),
    ),
  );
  assert.ok(results.every((r) => r.ack.stream === subjects.streams.audit && !r.ack.duplicate));
  assert.equal(new Set(results.map((r) => r.ack.seq)).size, 500);
  const first = results[0];
  assert.ok(first !== undefined && AuditEvent.safeParse(first.event).success);
  assert.equal(first.event.data.secret_key, "[redacted]");
  const info = await (await jetstreamManager(nc)).streams.info(subjects.streams.audit);
  assert.equal(info.state.messages, 500);
  // The event id is the Nats-Msg-Id: publishing it again is a duplicate, stored once.
  const again = await jsp.publish(
    subjects.audit.event("signer", "sign"),
    JSON.stringify(first.event),
    { msgId: first.event.id },
  );
  assert.equal(again.duplicate, true);
  assert.equal(again.seq, first.ack.seq);
  await jsp.close();
});

test("audit - the fast publisher rejects with PUBLISH_NOT_ACKED when no stream stores the event", async () => {
  const subjects = createSubjects(uniqueNamespace()); // no ensureStreams: AUDIT is missing
  const jsp = createJsPublisher(nc, { timeoutMs: 2_000 });
  const audit = createFastAuditPublisher(jsp, subjects, "signer");
  await assert.rejects(audit.record({ kind: "sign", outcome: "ok", data: {} }), (err) =>
    isUplineError(err, "PUBLISH_NOT_ACKED"),
  );
  await jsp.close();
});

test("audit - the fast publisher rejects with PUBLISH_NOT_ACKED when AUDIT is full", async () => {
  const subjects = createSubjects(uniqueNamespace());
  await ensureStreams(nc, subjects, { ...defaultStreamLimits, AUDIT_MAX_BYTES: 2048 });
  const jsp = createJsPublisher(nc, { timeoutMs: 2_000 });
  const audit = createFastAuditPublisher(jsp, subjects, "signer");
  const outcomes = await Promise.allSettled(
    Array.from({ length: 40 }, () =>
      audit.record({ kind: "sign", outcome: "ok", data: { pad: "x".repeat(100) } }),
    ),
  );
  const refused = outcomes.filter((o) => o.status === "rejected");
  assert.ok(outcomes.some((o) => o.status === "fulfilled"));
  assert.ok(refused.length > 0);
  assert.ok(
    refused.every((o) => isUplineError((o as PromiseRejectedResult).reason, "PUBLISH_NOT_ACKED")),
  );
  await jsp.close();
});
