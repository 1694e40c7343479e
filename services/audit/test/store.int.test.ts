import assert from "node:assert/strict";
import { after, test } from "node:test";
import { eventually, seededRandom, startPostgres } from "@upline/testkit";
import pg from "pg";
import {
  appendEvents,
  type ChainEvent,
  COPY_TARGET,
  canonicalEvent,
  canonicalJson,
  copyRows,
  copyRowsBytes,
  countRows,
  type Db,
  EMPTY_HEAD,
  HEAD_MOVED,
  isUniqueViolation,
  linkEvents,
  migrate,
  normalizeTs,
  openDb,
  prepareBatch,
  readHead,
  readRows,
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

/** Strings COPY's text format must carry unchanged: its escapes, NULL marker, line ends, unicode. */
const AWKWARD = [
  "",
  "\\",
  "\\N",
  "\\.",
  "a\tb",
  "line\nbreak",
  "cr\rlf\r\n",
  "back\\slash\\",
  '"quoted"',
  "ünïcødé ✓ 𝄞",
  "\u2028\u2029",
  "tab\t\\t\\\t",
];

function awkwardEvents(n: number, seed: number): ChainEvent[] {
  const rnd = seededRandom(seed);
  const pick = () => AWKWARD[Math.floor(rnd() * AWKWARD.length)] as string;
  const text = () => {
    let s = "";
    const parts = 1 + Math.floor(rnd() * 4);
    for (let i = 0; i < parts; i++)
      s += rnd() < 0.5 ? pick() : String.fromCharCode(32 + Math.floor(rnd() * 95));
    return s;
  };
  return events(n).map((e, i) => ({
    ...e,
    service: `svc${text()}`,
    kind: text(),
    outcome: text(),
    ...(rnd() < 0.5 ? { actor: text() } : {}),
    ...(rnd() < 0.5 ? { trace_id: text() } : {}),
    data: {
      [text()]: text(),
      nested: { list: [text(), i, rnd() < 0.5 ? null : true, { [pick()]: pick() }] },
      n: Math.floor(rnd() * 1e9) / 1000,
    },
  }));
}

for (const kind of ["postgres", "pglite"] as const) {
  test(`audit store (${kind}) - rows written with COPY read back exactly as linked (escapes, NULLs, unicode), and verify`, async () => {
    const db = await fresh(kind);
    const evs = awkwardEvents(400, 7);
    // the general path: linked in memory, data stringified again
    const expected = linkEvents(EMPTY_HEAD, evs).rows;
    // two batches through the one-statement COPY path, one through the careful path
    const first = await appendEvents(db, evs.slice(0, 150));
    const second = await appendEvents(db, evs.slice(150, 300), undefined, first.head);
    // the careful path: a stored id in the batch makes the optimistic COPY fail
    await appendEvents(db, [...evs.slice(299, 400)], undefined, second.head);
    const rows = await readRows(db, 0, 1000);
    assert.equal(rows.length, 400);
    for (let i = 0; i < rows.length; i++) {
      const got = rows[i];
      const want = expected[i];
      assert.deepEqual(
        { ...got, trace_id: got?.trace_id ?? undefined, actor: got?.actor ?? undefined },
        { ...want, trace_id: want?.trace_id ?? undefined, actor: want?.actor ?? undefined },
        `row ${i + 1}`,
      );
    }
    assert.equal((await verifyStore(db)).ok, true);
  });

  test(`audit store (${kind}) - the unique index backs COPY: a batch with a stored id the writer did not know of writes nothing`, async () => {
    const db = await fresh(kind);
    const batch = events(20);
    const first = await appendEvents(db, batch.slice(0, 10));
    // linked after the right head, but event 5 is already stored: the optimistic
    // one-statement write must be refused as a whole by the unique index
    const stale = prepareBatch(first.head, batch.slice(5, 20));
    await assert.rejects(tryAppend(db, stale), (err: unknown) => isUniqueViolation(err));
    assert.equal(await countRows(db), 10);
    assert.deepEqual(await readHead(db), first.head);
    // the careful path then stores exactly the 10 new ones, after the real head
    const result = await appendEvents(db, batch.slice(5, 20), undefined, first.head);
    assert.equal(result.stored.length, 10);
    assert.equal(result.skipped, 5);
    assert.equal(await countRows(db), 20);
    // and a whole redelivered batch stores nothing
    const again = await appendEvents(db, batch, undefined, result.head);
    assert.equal(again.stored.length, 0);
    assert.equal(again.skipped, 20);
    assert.equal(await countRows(db), 20);
    assert.equal((await verifyStore(db)).ok, true);
  });

  test(`audit store (${kind}) - two writers with overlapping batches and stale heads store every id once, one chain`, async () => {
    // a second writer: its own pool (PostgreSQL), or the same single-process store (PGlite)
    let db: Db;
    let other: Db;
    if (kind === "postgres") {
      const url = await (await startPostgres()).createDatabase("store");
      db = await openDb({ url });
      other = await openDb({ url });
      opened.push(db, other);
      await migrate(db);
    } else {
      db = await fresh(kind);
      other = db;
    }
    const all = events(600);
    const writer = async (w: Db, from: number, to: number) => {
      let head = EMPTY_HEAD;
      for (let i = from; i < to; i += 50) {
        // each writer keeps its own head in memory, stale as soon as the other writes
        head = (await appendEvents(w, all.slice(i, Math.min(to, i + 50)), undefined, head)).head;
      }
    };
    await Promise.all([writer(db, 0, 400), writer(other, 200, 600), writer(db, 100, 500)]);
    assert.equal(await countRows(db), 600);
    const rows = await readRows(db, 0, 1000);
    assert.equal(new Set(rows.map((r) => r.id)).size, 600);
    const report = await verifyStore(db);
    assert.equal(report.ok, true, JSON.stringify(report));
  });
}

test("audit store (postgres) - a refused batch keeps its connection (no reconnect per unique violation or moved head)", async () => {
  const db = await fresh("postgres");
  const pid = async () =>
    (await db.statement<{ pid: number }>("SELECT pg_backend_pid() AS pid")).rows[0]?.pid;
  const first = await appendEvents(db, events(10));
  const before = await pid();
  const dup = prepareBatch(first.head, [...events(2, 100)]);
  // a stored id, linked after the right head: unique violation
  const stored = (await readRows(db, 0, 1))[0] as ChainEvent;
  await assert.rejects(tryAppend(db, prepareBatch(first.head, [stored])), (err: unknown) =>
    isUniqueViolation(err),
  );
  assert.equal(await pid(), before);
  // a moved head: refused, and the connection kept
  assert.equal((await tryAppend(db, prepareBatch(EMPTY_HEAD, events(2, 200)))).committed, false);
  assert.equal(await pid(), before);
  assert.equal((await tryAppend(db, dup)).committed, true);
  assert.equal((await verifyStore(db)).ok, true);
});

test("audit store (postgres) - a pipelined batch is sent only once the batch before holds the head lock", async () => {
  const dbUrl = await (await startPostgres()).createDatabase("store");
  const db = await openDb({ url: dbUrl });
  opened.push(db);
  await migrate(db);
  const start = (await appendEvents(db, events(5))).head;
  const c = new pg.Client({ connectionString: dbUrl });
  await c.connect();
  try {
    // someone else holds the head lock (without moving it)
    await c.query("BEGIN");
    await c.query("SELECT seq FROM audit_head WHERE one FOR UPDATE");
    const n = prepareBatch(start, events(20, 100));
    const n1 = prepareBatch(n.result.head, events(20, 200));
    let release: () => void = () => undefined;
    const nLocked = new Promise<void>((r) => {
      release = r;
    });
    const sentN = tryAppend(db, n, { locked: release });
    const sentN1 = tryAppend(db, n1, { behind: nLocked });
    const waiting = async () =>
      Number(
        (
          await c.query<{ n: string }>(
            "SELECT count(*) AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE 'DO $$%'",
          )
        ).rows[0]?.n,
      );
    await eventually(async () => (await waiting()) === 1);
    // batch N waits for the lock; N+1 has not been sent, so it cannot overtake N
    assert.equal(await waiting(), 1);
    await c.query("COMMIT");
    assert.deepEqual(await sentN, { committed: true });
    assert.deepEqual(await sentN1, { committed: true });
  } finally {
    await c.end();
  }
  assert.equal(await countRows(db), 45);
  assert.equal((await verifyStore(db)).ok, true);
});

test("audit store - COPY text built from the data JSON computed for hashing equals the text built by stringifying again", () => {
  const evs = awkwardEvents(300, 11);
  const rows = linkEvents(EMPTY_HEAD, evs).rows;
  const datas = evs.map((e) => canonicalJson(e.data));
  assert.equal(copyRows(rows, datas), copyRows(rows));
  // The bytes the store sends are the text's UTF-8, whatever the buffer's first guess of its size.
  assert.equal(copyRowsBytes(rows, datas).toString("utf8"), copyRows(rows, datas));
  assert.deepEqual(copyRowsBytes(rows, datas), Buffer.from(copyRows(rows), "utf8"));
  const wide = linkEvents(EMPTY_HEAD, [
    { ...(evs[0] as ChainEvent), data: { s: "\u{1F600}\u00E9\uFFFD\t".repeat(400) } },
  ]).rows;
  assert.deepEqual(copyRowsBytes(wide), Buffer.from(copyRows(wide), "utf8"));
  for (let i = 0; i < evs.length; i++) {
    const e = evs[i] as ChainEvent;
    assert.equal(canonicalEvent(e, datas[i]), canonicalEvent(e));
  }
  assert.equal(COPY_TARGET.startsWith("audit_events ("), true);
  assert.equal(HEAD_MOVED.length, 5);
});
