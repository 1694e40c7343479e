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

test("audit - 100,000 events through two PostgreSQL outages and one service restart: all stored once, chain verifies", async () => {
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
  await eventually(() => stored() >= 15_000, { timeoutMs: 30_000 });
  await postgres.pause();
  await eventually(() => !app.status().dbUp, { timeoutMs: 15_000 });
  assert.equal(app.ready(), false);
  await postgres.resume();
  await eventually(() => app.status().dbUp && stored() >= 40_000, { timeoutMs: 40_000 });

  // the service restarts
  await app.stop();
  app = startAudit(bus, config);
  apps.push(app);
  await app.start();

  // outage 2
  await eventually(() => stored() >= 60_000, { timeoutMs: 30_000 });
  await postgres.pause();
  await eventually(() => !app.status().dbUp, { timeoutMs: 15_000 });
  await postgres.resume();

  await publishing;
  await eventually(() => stored() >= TOTAL, { timeoutMs: 40_000, intervalMs: 100 });
  db = await openDb({ url: postgres.url });
  assert.equal(await countRows(db), TOTAL);
  await eventually(() => app.status().lag === 0, { timeoutMs: 5_000, intervalMs: 100 });
  const report = await verifyStore(db);
  assert.equal(report.ok, true, JSON.stringify(report));
  assert.equal(report.rows, TOTAL);
});
