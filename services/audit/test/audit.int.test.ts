import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { jetstream } from "@nats-io/jetstream";
import { eventually, startNats, startPostgres } from "@upline/testkit";
import pg from "pg";
import {
  type AuditApp,
  countRows,
  type Db,
  openDb,
  queryEvents,
  verifyStore,
  WRITER_ROLE,
} from "../src/index.ts";
import {
  type Bus,
  makeEvent,
  openBus,
  publishMany,
  startAudit,
  tempDir,
  testConfig,
} from "./helpers.ts";

let bus: Bus;
let app: AuditApp;
let db: Db;
let dbUrl: string;
let dir: Awaited<ReturnType<typeof tempDir>>;

before(async () => {
  const [nats, postgres] = await Promise.all([startNats(), startPostgres()]);
  dbUrl = await postgres.createDatabase("audit");
  bus = await openBus(nats.url);
  dir = await tempDir();
  app = startAudit(bus, await testConfig(dir.path, { DATABASE_URL: dbUrl }));
  await app.start();
  db = await openDb({ url: dbUrl });
});

after(async () => {
  await app?.stop();
  await db?.close();
  await bus?.close();
  await dir?.remove();
});

async function superuser<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: dbUrl });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

test("audit - stores published events in order, hash-chained, with signed checkpoints", async () => {
  await publishMany(bus, 2_500, 64);
  await eventually(async () => (await countRows(db)) >= 2_500, { timeoutMs: 20_000 });
  await eventually(() => app.status().lastCheckpointSeq >= 2_000, { timeoutMs: 10_000 });
  const report = await verifyStore(db);
  assert.equal(report.ok, true, JSON.stringify(report));
  assert.ok(report.checkpoints >= 1);
  assert.ok(app.ready());
  const hits = await queryEvents(db, { clientOrderId: "c-17" });
  assert.equal(hits.length, 1);
  assert.equal(hits[0]?.data.n, 17);
});

test("audit - the same event id published twice with different Nats-Msg-Id is stored once", async () => {
  const js = jetstream(bus.nc);
  const e = makeEvent(1, { kind: "dup_probe" });
  const subject = bus.subjects.audit.event(e.service, e.kind);
  await js.publish(subject, JSON.stringify(e), { msgID: `${e.id}-a` });
  await js.publish(subject, JSON.stringify(e), { msgID: `${e.id}-b` });
  const marker = makeEvent(2, { kind: "dup_marker" });
  await js.publish(bus.subjects.audit.event(marker.service, marker.kind), JSON.stringify(marker), {
    msgID: marker.id,
  });
  await eventually(async () => (await queryEvents(db, { kind: "dup_marker" })).length === 1);
  assert.equal((await queryEvents(db, { kind: "dup_probe" })).length, 1);
  assert.ok(app.status().duplicates >= 1);
  assert.equal((await verifyStore(db)).ok, true);
});

test("audit - a leaked bearer token is stored redacted and raises a redaction alarm", async () => {
  const js = jetstream(bus.nc);
  const token = `Bearer ${"k".repeat(48)}`;
  const e = makeEvent(3, { kind: "leaky", data: { request: { authorization: token }, ok: 1 } });
  const before = app.status().redactions;
  await js.publish(bus.subjects.audit.event(e.service, e.kind), JSON.stringify(e), {
    msgID: e.id,
  });
  const [row] = await eventually(async () => {
    const rows = await queryEvents(db, { kind: "leaky" });
    return rows.length === 1 ? rows : false;
  });
  assert.deepEqual(row?.data, { request: { authorization: "[redacted]" }, ok: 1 });
  assert.equal(app.status().redactions, before + 1);
  const alarms = await eventually(async () => {
    const rows = await queryEvents(db, { service: "audit", kind: "redaction_alarm" });
    return rows.length > 0 ? rows : false;
  });
  assert.equal(alarms[0]?.data.event_id, e.id);
  assert.deepEqual(alarms[0]?.data.paths, ["/request/authorization"]);
  const all = await superuser((c) => c.query("SELECT data::text AS d FROM audit_events"));
  assert.ok(!all.rows.some((r: { d: string }) => r.d.includes("k".repeat(48))));
});

test("audit - UPDATE and DELETE fail as the service's role and as the owner; a changed row is named by verify", async () => {
  await eventually(async () => (await countRows(db)) >= 100);
  await superuser(async (c) => {
    await c.query("BEGIN");
    await c.query(`SET LOCAL ROLE ${WRITER_ROLE}`);
    await assert.rejects(
      c.query("UPDATE audit_events SET kind = 'x' WHERE seq = 42"),
      /permission denied/,
    );
    await c.query("ROLLBACK");
    await c.query("BEGIN");
    await c.query(`SET LOCAL ROLE ${WRITER_ROLE}`);
    await assert.rejects(c.query("DELETE FROM audit_events WHERE seq = 42"), /permission denied/);
    await c.query("ROLLBACK");
    // the owner is refused by the trigger
    await assert.rejects(
      c.query("UPDATE audit_events SET kind = 'x' WHERE seq = 42"),
      /append-only/,
    );
    await assert.rejects(c.query("DELETE FROM audit_events WHERE seq = 42"), /append-only/);
    await assert.rejects(c.query("TRUNCATE audit_events"), /append-only/);
    // a superuser who disables the trigger can change a row ...
    await c.query("ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only");
    await c.query(`UPDATE audit_events SET data = data || '{"n": -1}' WHERE seq = 42`);
    await c.query("ALTER TABLE audit_events ENABLE TRIGGER audit_events_append_only");
  });
  // ... and verify names it
  const report = await verifyStore(db);
  assert.equal(report.ok, false);
  assert.equal(report.firstBrokenSeq, 42);
  assert.equal(report.chainBreak?.problem, "hash_mismatch");
});
