import assert from "node:assert/strict";
import { after, test } from "node:test";
import { eventually, startPostgres } from "@upline/testkit";
import pg from "pg";
import {
  appendEvents,
  type ChainEvent,
  countRows,
  type Db,
  migrate,
  normalizeTs,
  openDb,
  prepareBatch,
  readHead,
  tryAppend,
  verifyStore,
} from "../src/index.ts";
import { makeEvent } from "./helpers.ts";

const opened: Db[] = [];

after(async () => {
  for (const db of opened) await db.close();
});

function events(n: number, from = 0): ChainEvent[] {
  return Array.from({ length: n }, (_, i) => {
    const e = makeEvent(from + i);
    return { ...e, ts: normalizeTs(e.ts) } as ChainEvent;
  });
}

async function fresh(kind: "postgres" | "pglite"): Promise<Db> {
  const db =
    kind === "postgres"
      ? await openDb({ url: await (await startPostgres()).createDatabase("store") })
      : await openDb({});
  opened.push(db);
  await migrate(db);
  return db;
}

for (const kind of ["postgres", "pglite"] as const) {
  test(`audit store (${kind}) - a batch linked after a head another replica moved writes nothing, then is re-linked after the real head`, async () => {
    const db = await fresh(kind);
    const first = await appendEvents(db, events(10));
    // another replica appends: our in-memory head (first.head) is now stale
    await appendEvents(db, events(10, 10));
    const moved = await readHead(db);
    assert.equal(moved.seq, 20);

    const stale = prepareBatch(first.head, events(5, 20));
    assert.deepEqual(await tryAppend(db, stale), { committed: false, head: moved });
    assert.equal(await countRows(db), 20);

    const later = events(5, 30);
    const result = await appendEvents(db, later, undefined, first.head);
    assert.equal(result.stored.length, 5);
    assert.equal(result.stored[0]?.seq, 21);
    assert.equal(result.stored[0]?.prev_hash, moved.hash);
    assert.equal(await countRows(db), 25);
    assert.equal((await verifyStore(db)).ok, true);
  });

  test(`audit store (${kind}) - a batch repeating stored ids stores only the new ones, once`, async () => {
    const db = await fresh(kind);
    const batch = events(8);
    const first = await appendEvents(db, batch);
    // a redelivery of half the batch plus new events, linked after the right head
    const again = [...batch.slice(4), ...events(3, 100), batch[0] as ChainEvent];
    const result = await appendEvents(db, again, undefined, first.head);
    assert.equal(result.stored.length, 3);
    assert.equal(result.skipped, 5);
    assert.equal(await countRows(db), 11);
    // the same call repeated (a commit whose reply was lost) stores nothing
    const repeat = await appendEvents(db, again, undefined, first.head);
    assert.equal(repeat.stored.length, 0);
    assert.equal(await countRows(db), 11);
    assert.equal((await verifyStore(db)).ok, true);
  });
}

async function whileHeadLocked(
  db: Db,
  dbUrl: string,
  outcome: "COMMIT" | "ROLLBACK",
): Promise<{ committed: boolean }> {
  // A raw connection plays batch N: it holds the head row while batch N+1,
  // linked after N's new head, is sent and has to wait for the lock.
  const c = new pg.Client({ connectionString: dbUrl });
  await c.connect();
  try {
    const start = await readHead(db);
    const n = prepareBatch(start, events(20, 200));
    await c.query("BEGIN");
    await c.query("SELECT seq FROM audit_head WHERE one FOR UPDATE");
    const rows = n.result.stored;
    for (const r of rows) {
      await c.query(
        `INSERT INTO audit_events (seq, id, ts, service, kind, outcome, trace_id, actor, data, prev_hash, hash)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
        [
          r.seq,
          r.id,
          r.ts,
          r.service,
          r.kind,
          r.outcome,
          r.trace_id ?? null,
          r.actor ?? null,
          JSON.stringify(r.data),
          r.prev_hash,
          r.hash,
        ],
      );
    }
    await c.query("UPDATE audit_head SET seq = $1, hash = $2 WHERE one", [
      n.result.head.seq,
      n.result.head.hash,
    ]);
    const next = prepareBatch(n.result.head, events(20, 300));
    const sent = tryAppend(db, next);
    await eventually(async () => {
      const w = await c.query<{ n: string }>(
        "SELECT count(*) AS n FROM pg_locks WHERE NOT granted AND pid <> pg_backend_pid()",
      );
      return Number(w.rows[0]?.n) > 0;
    });
    await c.query(outcome);
    return { committed: (await sent).committed };
  } finally {
    await c.end();
  }
}

test("audit store (postgres) - a batch sent while the batch before it holds the head lock commits right after it", async () => {
  const dbUrl = await (await startPostgres()).createDatabase("store");
  const db = await openDb({ url: dbUrl });
  opened.push(db);
  await migrate(db);
  await appendEvents(db, events(5));
  assert.deepEqual(await whileHeadLocked(db, dbUrl, "COMMIT"), { committed: true });
  assert.equal(await countRows(db), 45);
  const report = await verifyStore(db);
  assert.equal(report.ok, true, JSON.stringify(report));
});

test("audit store (postgres) - when the batch before rolls back, the batch linked after it writes nothing", async () => {
  const dbUrl = await (await startPostgres()).createDatabase("store");
  const db = await openDb({ url: dbUrl });
  opened.push(db);
  await migrate(db);
  await appendEvents(db, events(5));
  assert.deepEqual(await whileHeadLocked(db, dbUrl, "ROLLBACK"), { committed: false });
  assert.equal(await countRows(db), 5);
  assert.equal((await readHead(db)).seq, 5);
  assert.equal((await verifyStore(db)).ok, true);
});
