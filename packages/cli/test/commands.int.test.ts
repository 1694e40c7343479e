import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/transport-node";
import {
  AuditEvent,
  ControlState,
  connectBus,
  createLogger,
  createSubjects,
  ensureStreams,
  type OrderEvent,
  type Subjects,
  startHealthServer,
} from "@upline/shared";
import { startNats, uniqueNamespace } from "@upline/testkit";
import { runCli } from "../src/index.ts";
import { jsonLines, recordingIo } from "./helpers.ts";

const logger = createLogger({ service: "cli", level: "silent" });

describe("upline commands against real NATS", () => {
  let nc: NatsConnection;
  let natsUrl: string;
  let subjects: Subjects;
  let env: Record<string, string>;

  before(async () => {
    natsUrl = (await startNats()).url;
    nc = await connectBus({ NATS_URL: natsUrl }, { name: "cli-test", logger });
    const ns = uniqueNamespace();
    subjects = createSubjects(ns);
    await ensureStreams(nc, subjects);
    env = { NATS_URL: natsUrl, UPLINE_NAMESPACE: ns, UPLINE_ACTOR: "tester" };
  });
  after(async () => {
    await nc?.drain();
  });

  const control = async (s: Subjects) => {
    const e = await (await new Kvm(nc).open(s.buckets.control)).get(s.controlTradingKey);
    return e ? ControlState.parse(JSON.parse(Buffer.from(e.value).toString("utf8"))) : undefined;
  };

  test("cli trading - halt and resume set the kill switch with actor and reason, each audited", async () => {
    const halt = recordingIo(env);
    assert.equal(await runCli(["trading", "halt", "--reason", "drill"], halt), 0, halt.stderr());
    assert.deepEqual(
      { ...(await control(subjects)), updated_at: undefined },
      { state: "halted", reason: "drill", actor: "tester", updated_at: undefined },
    );
    const jsm = await jetstreamManager(nc);
    const stored = await jsm.streams.getMessage(subjects.streams.audit, {
      last_by_subj: subjects.audit.event("cli", "trading"),
    });
    const event = AuditEvent.parse(stored?.json());
    assert.equal(event.actor, "tester");
    assert.deepEqual(
      { state: event.data.state, reason: event.data.reason },
      { state: "halted", reason: "drill" },
    );

    const resume = recordingIo(env);
    assert.equal(
      await runCli(["trading", "resume", "--reason", "drill over", "--json"], resume),
      0,
    );
    assert.equal(jsonLines(resume.stdout())[0]?.previous, "halted");
    assert.equal((await control(subjects))?.state, "active");
    const show = recordingIo(env);
    assert.equal(await runCli(["trading", "show"], show), 0);
    assert.match(show.stdout(), /trading active.*\n.*drill over/);
  });

  test("cli trading - without an acknowledged audit record a halt says it happened and fails; a resume does not happen", async () => {
    const lone = createSubjects(uniqueNamespace());
    // The kill switch bucket but no AUDIT stream: every audit publish goes unacknowledged.
    await new Kvm(nc).create(lone.buckets.control, { history: 5 });
    const e = { ...env, UPLINE_NAMESPACE: lone.namespace, UPLINE_TIMEOUT_MS: "1000" };
    const halt = recordingIo(e);
    assert.equal(await runCli(["trading", "halt", "--reason", "audit down"], halt), 1);
    assert.match(halt.stderr(), /PUBLISH_NOT_ACKED: trading IS now halted/);
    assert.equal((await control(lone))?.state, "halted");
    const resume = recordingIo(e);
    assert.equal(await runCli(["trading", "resume", "--reason", "try"], resume), 1);
    assert.equal((await control(lone))?.state, "halted");
  });

  test("cli feed watch - prints the market's events and health as JSON lines, then stops", async () => {
    const io = recordingIo(env);
    const watching = runCli(["feed", "watch", "KRW-BTC", "--json", "--count", "3"], io);
    const ticker = {
      type: "trade",
      market: "KRW-BTC",
      exchange_ts: Date.now(),
      received_ts: Date.now(),
      price: "100000000",
      volume: "0.01",
      side: "bid",
      sequential_id: "17",
    };
    const health = {
      market: "KRW-BTC",
      state: "fresh",
      last_exchange_ts: Date.now(),
      staleness_ms: 5,
      gaps: 0,
      reconnects: 1,
      ts: new Date().toISOString(),
    };
    let finished = false;
    void watching.finally(() => {
      finished = true;
    });
    // Publish until the watcher has subscribed and seen enough (it subscribes after connecting).
    while (!finished) {
      nc.publish(subjects.md.event("trade", "KRW-BTC"), JSON.stringify(ticker));
      nc.publish(
        subjects.md.event("trade", "KRW-ETH"),
        JSON.stringify({ ...ticker, market: "KRW-ETH" }),
      );
      nc.publish(subjects.md.health("KRW-BTC"), JSON.stringify(health));
      await nc.flush();
      await Promise.race([watching, new Promise((r) => setImmediate(r))]);
    }
    assert.equal(await watching, 0, io.stderr());
    const lines = jsonLines<{ subject: string; market: string }>(io.stdout());
    assert.equal(lines.length, 3);
    assert.ok(lines.every((l) => l.market === "KRW-BTC"));
    assert.ok(lines.some((l) => l.subject === subjects.md.health("KRW-BTC")));
  });

  test("cli order list - shows an account's unfinished orders from the ORDERS stream", async () => {
    const js = jetstream(nc);
    const now = new Date().toISOString();
    const ev = (id: string, over: Partial<OrderEvent>): OrderEvent => ({
      id,
      type: "accepted",
      ts: now,
      account: "main",
      market: "KRW-BTC",
      ...over,
    });
    for (const e of [
      ev("1", { client_order_id: "open-1", uuid: "u1", side: "bid", price: "1000" }),
      ev("2", { client_order_id: "done-1", uuid: "u2" }),
      ev("3", { uuid: "u2", type: "filled" }),
      ev("4", { client_order_id: "other-acct", account: "alt" }),
      ev("5", { uuid: "u1", type: "partially_filled", executed_volume: "0.5" }),
    ])
      await js.publish(subjects.orders.events(e.market), JSON.stringify(e), { msgID: e.id });
    const io = recordingIo(env);
    assert.equal(await runCli(["order", "list", "--json"], io), 0, io.stderr());
    const rows = jsonLines<OrderEvent>(io.stdout());
    assert.deepEqual(
      rows.map((r) => [r.client_order_id, r.type, r.executed_volume]),
      [["open-1", "partially_filled", "0.5"]],
    );
    const all = recordingIo(env);
    assert.equal(await runCli(["order", "list", "--all", "--json"], all), 0);
    assert.equal(jsonLines(all.stdout()).length, 2);
  });

  test("cli status - reports each service's readiness and exits 1 when one is unreachable", async () => {
    const health = await startHealthServer(
      0,
      { live: () => true, ready: () => true, detail: () => ({ trading: "active" }) },
      "127.0.0.1",
    );
    try {
      const io = recordingIo({
        ...env,
        UPLINE_HEALTH_URLS: `signer=${health.url},order-exec=http://127.0.0.1:1`,
      });
      assert.equal(await runCli(["status", "--json", "--wait-ms", "50"], io), 1, io.stderr());
      const report = jsonLines<{
        services: { name: string; state: string }[];
        streams: { name: string; error?: string }[];
        trading: { state: string } | null;
      }>(io.stdout())[0];
      assert.deepEqual(
        report?.services.map((s) => [s.name, s.state]),
        [
          ["signer", "ready"],
          ["order-exec", "unreachable"],
        ],
      );
      assert.deepEqual(
        report?.streams.map((s) => [s.name, s.error]),
        [
          [subjects.streams.md, undefined],
          [subjects.streams.orders, undefined],
          [subjects.streams.audit, undefined],
        ],
      );
    } finally {
      await health.close();
    }
  });

  test("cli - NATS that cannot be reached exits 3 and says what to do", async () => {
    const io = recordingIo({ NATS_URL: "nats://127.0.0.1:1", UPLINE_TIMEOUT_MS: "500" });
    assert.equal(await runCli(["trading", "show"], io), 3);
    assert.match(io.stderr(), /BUS_UNAVAILABLE[\s\S]*pnpm start/);
  });
});
