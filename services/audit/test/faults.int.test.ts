import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { eventually, type PostgresServer, startNats, startPostgres } from "@upline/testkit";
import { type AuditApp, countRows, type Db, openDb, verifyStore } from "../src/index.ts";
import { type Bus, openBus, publishMany, startAudit, tempDir, testConfig } from "./helpers.ts";

const TOTAL = 100_000;

let bus: Bus;
let postgres: PostgresServer;
let dir: Awaited<ReturnType<typeof tempDir>>;
const apps: AuditApp[] = [];
let db: Db | undefined;

before(async () => {
  const [nats, pgServer] = await Promise.all([startNats(), startPostgres({ dedicated: true })]);
  postgres = pgServer;
  bus = await openBus(nats.url, 1024 ** 3);
  dir = await tempDir();
});

after(async () => {
  for (const a of apps) await a.stop();
  await db?.close();
  await bus?.close();
  await postgres?.stop();
  await dir?.remove();
});

// The waits allow for a loaded 2-core machine, where the 100,000 events took
// two minutes and a 30 s wait for the first 15,000 once ran out (50 s in all idle).
test("audit - 100,000 events through two PostgreSQL outages and one service restart: all stored once, chain verifies", {
  timeout: 600_000,
}, async () => {
  const config = await testConfig(dir.path, {
    DATABASE_URL: postgres.url,
    AUDIT_CHECKPOINT_EVERY: "20000",
  });
  let app = startAudit(bus, config);
  apps.push(app);
  await app.start();
  const stored = () => app.status().head.seq;

  const publishing = publishMany(bus, TOTAL, 256);

  // outage 1
  await eventually(() => stored() >= 15_000, { timeoutMs: 120_000 });
  await postgres.pause();
  await eventually(() => !app.status().dbUp, { timeoutMs: 30_000 });
  assert.equal(app.ready(), false);
  await postgres.resume();
  await eventually(() => app.status().dbUp && stored() >= 40_000, { timeoutMs: 120_000 });

  // the service restarts
  await app.stop();
  app = startAudit(bus, config);
  apps.push(app);
  await app.start();

  // outage 2
  await eventually(() => stored() >= 60_000, { timeoutMs: 120_000 });
  await postgres.pause();
  await eventually(() => !app.status().dbUp, { timeoutMs: 30_000 });
  await postgres.resume();

  await publishing;
  await eventually(() => stored() >= TOTAL, { timeoutMs: 120_000, intervalMs: 100 });
  db = await openDb({ url: postgres.url });
  assert.equal(await countRows(db), TOTAL);
  await eventually(() => app.status().lag === 0, { timeoutMs: 30_000, intervalMs: 100 });
  const report = await verifyStore(db);
  assert.equal(report.ok, true, JSON.stringify(report));
  assert.equal(report.rows, TOTAL);
});
