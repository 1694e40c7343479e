import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { AckPolicy, DeliverPolicy, jetstream, jetstreamManager } from "@nats-io/jetstream";
import { eventually, startNats } from "@upline/testkit";
import { type AuditApp, countRows, openDb, queryEvents, verifyStore } from "../src/index.ts";
import {
  type Bus,
  makeEvent,
  openBus,
  publishMany,
  startAudit,
  tempDir,
  testConfig,
} from "./helpers.ts";

const TOTAL = 5_000;
let bus: Bus;
let natsUrl: string;
let dir: Awaited<ReturnType<typeof tempDir>>;
const apps: AuditApp[] = [];

before(async () => {
  natsUrl = (await startNats()).url;
  bus = await openBus(natsUrl);
  dir = await tempDir();
});

after(async () => {
  for (const a of apps) await a.stop();
  await bus?.close();
  await dir?.remove();
});

test("audit (embedded PGlite) - 5,000 events across a service restart, verify, then a changed row is named", async () => {
  // no DATABASE_URL: the embedded default
  const config = await testConfig(dir.path, { AUDIT_CHECKPOINT_EVERY: "1000" });
  let app = startAudit(bus, config);
  apps.push(app);
  await app.start();
  assert.equal(app.status().database, "pglite");
  const publishing = publishMany(bus, TOTAL, 128);
  await eventually(() => app.status().head.seq >= 2_000, { timeoutMs: 20_000 });
  await app.stop();
  app = startAudit(bus, config);
  apps.push(app);
  await app.start();
  await publishing;
  await eventually(() => app.status().head.seq >= TOTAL, { timeoutMs: 30_000, intervalMs: 50 });
  await app.stop(); // PGlite is single-process: release the data directory

  const db = await openDb({ dataDir: config.AUDIT_DATA_DIR });
  try {
    assert.equal(await countRows(db), TOTAL);
    const report = await verifyStore(db);
    assert.equal(report.ok, true, JSON.stringify(report));
    assert.ok(report.checkpoints >= 3, `checkpoints: ${report.checkpoints}`);

    await assert.rejects(
      db.query("UPDATE audit_events SET kind = 'x' WHERE seq = 1234"),
      /append-only/,
    );
    await assert.rejects(db.query("DELETE FROM audit_events WHERE seq = 1234"), /append-only/);
    await db.exec("ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only");
    await db.exec(`UPDATE audit_events SET outcome = 'denied' WHERE seq = 1234`);
    await db.exec("ALTER TABLE audit_events ENABLE TRIGGER audit_events_append_only");
    const broken = await verifyStore(db);
    assert.equal(broken.ok, false);
    assert.equal(broken.firstBrokenSeq, 1234);
  } finally {
    await db.close();
  }
});

test("audit (embedded PGlite) - an event given back unprepared still raises its redaction alarm when redelivered", async () => {
  // Events are prepared (validated, redacted) only when their batch is formed;
  // one nak'd before that (a stop, a crash) comes back as a redelivery and
  // must still raise the alarm.
  const own = await openBus(natsUrl);
  const d = await tempDir();
  try {
    const config = await testConfig(d.path);
    const e = makeEvent(1, {
      kind: "leaky_redelivered",
      data: { api_secret: "0123456789abcdef0123456789abcdef", n: 1 },
    });
    await jetstream(own.nc).publish(
      own.subjects.audit.event(e.service, e.kind),
      JSON.stringify(e),
      {
        msgID: e.id,
      },
    );
    const stream = own.subjects.streams.audit;
    await (await jetstreamManager(own.nc)).consumers.add(stream, {
      durable_name: config.AUDIT_CONSUMER,
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
      max_deliver: -1,
    });
    const first = await (await jetstream(own.nc).consumers.get(stream, config.AUDIT_CONSUMER)).next(
      {
        expires: 5_000,
      },
    );
    assert.ok(first, "the event was delivered once");
    first.nak();

    const app = startAudit(own, config);
    apps.push(app);
    await app.start();
    // the event and the alarm about it are both stored
    await eventually(() => app.status().stored >= 2, { timeoutMs: 20_000 });
    assert.equal(app.status().redactions, 1);
    await app.stop();
    const db = await openDb({ dataDir: config.AUDIT_DATA_DIR });
    try {
      const [stored] = await queryEvents(db, { kind: "leaky_redelivered" });
      assert.equal(stored?.data.api_secret, "[redacted]");
      const alarms = await queryEvents(db, { kind: "redaction_alarm" });
      assert.equal(alarms.length, 1);
      assert.equal(alarms[0]?.data.event_id, e.id);
      assert.deepEqual(alarms[0]?.data.paths, ["/api_secret"]);
    } finally {
      await db.close();
    }
  } finally {
    await own.close();
    await d.remove();
  }
});
