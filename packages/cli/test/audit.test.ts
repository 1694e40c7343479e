import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import {
  appendEvents,
  generateSigningJwk,
  importSigningKey,
  insertCheckpoint,
  migrate,
  openDb,
  signCheckpoint,
} from "@upline/audit";
import { uuidv7 } from "@upline/shared";
import { type CliIo, runCli } from "../src/index.ts";

let dir: string;
let dataDir: string;
let keyFile: string;

function io(): CliIo & { stdout: () => string; stderr: () => string } {
  let out = "";
  let err = "";
  return {
    out: (t) => {
      out += t;
    },
    err: (t) => {
      err += t;
    },
    env: {},
    signal: new AbortController().signal,
    stdout: () => out,
    stderr: () => err,
  };
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "upline-cli-"));
  dataDir = join(dir, "pglite");
  const jwk = await generateSigningJwk();
  keyFile = join(dir, "key.jwk");
  await writeFile(keyFile, JSON.stringify(jwk));
  const key = await importSigningKey(jwk);
  const db = await openDb({ dataDir });
  try {
    await migrate(db);
    const events = Array.from({ length: 50 }, (_, i) => ({
      id: uuidv7(Date.parse("2025-03-01T00:00:00Z") + i * 1000),
      ts: new Date(Date.parse("2025-03-01T00:00:00Z") + i * 1000).toISOString(),
      service: i % 2 === 0 ? "order-exec" : "signer",
      kind: i % 2 === 0 ? "order_placed" : "sign",
      outcome: "ok",
      trace_id: i === 7 ? "a".repeat(32) : undefined,
      data: i === 10 ? { intent: { client_order_id: "abc-10" } } : { client_order_id: `c-${i}` },
    }));
    const { head } = await appendEvents(db, events);
    const time = new Date().toISOString();
    await insertCheckpoint(db, {
      seq: head.seq,
      hash: head.hash,
      signed_at: time,
      kid: key.kid,
      public_jwk: key.publicJwk as Record<string, unknown>,
      jws: await signCheckpoint(key, { seq: head.seq, hash: head.hash, time }),
    });
  } finally {
    await db.close();
  }
});

after(async () => {
  await rm(dir, { recursive: true, force: true });
});

test("cli audit verify - an intact log verifies with the pinned key and exits 0", async () => {
  const t = io();
  const code = await runCli(["audit", "verify", "--data-dir", dataDir, "--public-key", keyFile], t);
  assert.equal(code, 0, t.stderr());
  assert.match(t.stdout(), /verifies: 50 rows, head seq 50 .* 1 signed checkpoints \(pinned key\)/);
});

test("cli audit query - filters by service, kind, time range, trace id and nested client_order_id", async () => {
  const run = async (...args: string[]) => {
    const t = io();
    assert.equal(await runCli(["audit", "query", "--data-dir", dataDir, "--json", ...args], t), 0);
    return t
      .stdout()
      .trim()
      .split("\n")
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { seq: number; kind: string });
  };
  assert.equal((await run("--service", "signer")).length, 25);
  assert.deepEqual(
    (await run("--since", "2025-03-01T00:00:10Z", "--until", "2025-03-01T00:00:13Z")).map(
      (r) => r.seq,
    ),
    [11, 12, 13],
  );
  assert.deepEqual(
    (await run("--trace-id", "a".repeat(32))).map((r) => r.seq),
    [8],
  );
  assert.deepEqual(
    (await run("--client-order-id", "abc-10")).map((r) => r.seq),
    [11],
  );
  assert.deepEqual(
    (await run("--client-order-id", "c-4", "--kind", "order_placed")).map((r) => r.seq),
    [5],
  );
});

test("cli audit tail - prints rows after a seq, human-readable", async () => {
  const t = io();
  const code = await runCli(
    ["audit", "tail", "--data-dir", dataDir, "--from-seq", "47", "--max", "3"],
    t,
  );
  assert.equal(code, 0);
  const lines = t.stdout().trim().split("\n");
  assert.equal(lines.length, 3);
  assert.match(lines[0] ?? "", /^\s*48\s+2025-03-01T00:00:47.000Z\s+signer\.sign\s+ok/);
});

test("cli - an unknown command or option exits 2 with usage", async () => {
  const t = io();
  assert.equal(await runCli(["audit", "nope"], t), 2);
  assert.match(t.stderr(), /unknown command/);
  const u = io();
  assert.equal(await runCli(["audit", "verify", "--bogus"], u), 2);
});

test("cli audit verify - a row changed behind the trigger's back names its seq and exits 1", async () => {
  const db = await openDb({ dataDir });
  try {
    await db.exec("ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only");
    await db.exec(`UPDATE audit_events SET data = '{"client_order_id":"forged"}' WHERE seq = 23`);
    await db.exec("ALTER TABLE audit_events ENABLE TRIGGER audit_events_append_only");
  } finally {
    await db.close();
  }
  const t = io();
  assert.equal(await runCli(["audit", "verify", "--data-dir", dataDir], t), 1);
  assert.match(t.stdout(), /BROKEN at seq 23: hash_mismatch/);
  const j = io();
  assert.equal(await runCli(["audit", "verify", "--data-dir", dataDir, "--json"], j), 1);
  assert.equal(JSON.parse(j.stdout()).firstBrokenSeq, 23);
});
