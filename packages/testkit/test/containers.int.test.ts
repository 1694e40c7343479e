import assert from "node:assert/strict";
import { test } from "node:test";
import pg from "pg";
import { startNats, startPostgres } from "../src/index.ts";

test("testkit - the run's PostgreSQL gives each caller a database of its own", async () => {
  const server = await startPostgres();
  const [a, b] = await Promise.all([server.createDatabase(), server.createDatabase()]);
  assert.notEqual(a, b);
  const client = new pg.Client({ connectionString: a });
  await client.connect();
  try {
    const { rows } = await client.query<{ db: string; v: string }>(
      "select current_database() as db, version() as v",
    );
    assert.equal(`/${rows[0]?.db}`, new URL(a).pathname);
    assert.match(rows[0]?.v ?? "", /^PostgreSQL/);
  } finally {
    await client.end();
  }
});

test("testkit - a dedicated PostgreSQL restarts on the same URL with its data", async () => {
  const server = await startPostgres({ dedicated: true });
  try {
    const url = await server.createDatabase();
    const run = async (sql: string) => {
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      try {
        return (await client.query(sql)).rows;
      } finally {
        await client.end();
      }
    };
    await run("create table t (n int); insert into t values (42)");
    await server.restart();
    assert.deepEqual(await run("select n from t"), [{ n: 42 }]);
  } finally {
    await server.stop();
  }
});

test("testkit - one NATS holds the streams of many test namespaces (max_bytes reservations fit)", async () => {
  const { connectBus, createLogger, createSubjects, ensureStreams } = await import(
    "@upline/shared"
  );
  const nats = await startNats({ dedicated: true });
  const nc = await connectBus(
    { NATS_URL: nats.url },
    { name: "many", logger: createLogger({ service: "t", level: "silent" }) },
  );
  try {
    // With the server's default file-store limit the tenth namespace was refused.
    for (let i = 0; i < 25; i++) await ensureStreams(nc, createSubjects(`many${i}`));
  } finally {
    await nc.close();
    await nats.stop();
  }
});
