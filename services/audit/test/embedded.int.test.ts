import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { eventually, startNats } from "@upline/testkit";
import { type AuditApp, countRows, openDb, verifyStore } from "../src/index.ts";
import { type Bus, openBus, publishMany, startAudit, tempDir, testConfig } from "./helpers.ts";

const TOTAL = 5_000;
let bus: Bus;
let dir: Awaited<ReturnType<typeof tempDir>>;
const apps: AuditApp[] = [];

before(async () => {
  bus = await openBus((await startNats()).url);
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
