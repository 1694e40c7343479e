/**
 * Revocations persisted in KV `control` (issue 4): they outlive a restart,
 * reach replicas started later, fail closed on an unreadable entry, and are
 * lifted by deleting the entry. A real NATS; each test its own namespace.
 */
import assert from "node:assert/strict";
import { Writable } from "node:stream";
import { after, before, test } from "node:test";
import { jetstreamManager } from "@nats-io/jetstream";
import { type KV, Kvm } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/transport-node";
import {
  connectBus,
  createLogger,
  createSubjects,
  ensureStreams,
  isUplineError,
  type Subjects,
} from "@upline/shared";
import { eventually, startNats, uniqueNamespace } from "@upline/testkit";
import { buildSigner, createSignerClient, type Signer, type SignerClient } from "../src/index.ts";
import { callerKeys, keyFile, signerSettings, tempDirs } from "./fixtures.ts";

const logLines: string[] = [];
const logger = createLogger({
  service: "signer",
  level: "info",
  destination: new Writable({
    write(chunk, _enc, done) {
      logLines.push(String(chunk));
      done();
    },
  }),
});
const dirs = tempDirs();
const exec = callerKeys();
const operator = callerKeys();
const running: { signer: Signer; conn: NatsConnection }[] = [];
let nc: NatsConnection;
let url: string;

before(async () => {
  const nats = await startNats();
  url = nats.url;
  nc = await connectBus({ NATS_URL: url }, { name: "signer-revocations-test", logger });
  dirs.writeKey("main-1.json", keyFile({ key_id: "main", version: 1 }));
  dirs.writeKey("main-2.json", keyFile({ key_id: "main", version: 2 }));
  dirs.writeKey("other.json", keyFile({ key_id: "other", version: 1 }));
  dirs.writeCallers([
    {
      id: "order-exec",
      public_jwk: exec.publicJwk,
      keys: ["main", "other"],
      endpoints: ["GET /v1/accounts"],
    },
    { id: "operator", public_jwk: operator.publicJwk, admin: true },
  ]);
});

after(async () => {
  for (const r of [...running]) await stopReplica(r);
  await nc?.close();
  dirs.cleanup();
});

/** A namespace with its streams and buckets, and its KV `control`. */
async function system(): Promise<{ subjects: Subjects; kv: KV }> {
  const subjects = createSubjects(uniqueNamespace());
  await ensureStreams(nc, subjects);
  return { subjects, kv: await new Kvm(nc).open(subjects.buckets.control) };
}

/** A signer replica on its own connection (as a separate process would be). */
async function replica(subjects: Subjects): Promise<{ signer: Signer; conn: NatsConnection }> {
  const conn = await connectBus({ NATS_URL: url }, { name: "signer-replica", logger });
  const signer = buildSigner({ nc: conn, subjects, logger, settings: signerSettings(dirs) });
  const r = { signer, conn };
  running.push(r);
  await signer.start();
  await conn.flush(); // its subscriptions are known to the server before the test asks
  return r;
}

async function stopReplica(r: { signer: Signer; conn: NatsConnection }): Promise<void> {
  await r.signer.stop();
  running.splice(running.indexOf(r), 1);
  await r.conn.close();
}

function clients(subjects: Subjects): { exec: SignerClient; admin: SignerClient } {
  const make = (callerId: string, privateJwk: Record<string, unknown>) =>
    createSignerClient({ nc, subjects, callerId, privateJwk, timeoutMs: 10_000 });
  return {
    exec: make("order-exec", exec.privateJwk),
    admin: make("operator", operator.privateJwk),
  };
}

const GET = { method: "GET", path: "/v1/accounts" } as const;

async function refused(p: Promise<unknown>): Promise<void> {
  await assert.rejects(p, (e: unknown) => isUplineError(e, "SIGNER_KEY_NOT_ALLOWED"));
}

/** Sessions are per replica: a fresh client per replica set avoids stale sessions. */
async function granted(c: SignerClient, keyId: string, keyVersion?: number): Promise<void> {
  const g = await c.sign({ keyId, ...GET, ...(keyVersion === undefined ? {} : { keyVersion }) });
  assert.ok(g.authorization.startsWith("Bearer "));
}

test("signer revocations - a revoked key stays refused after the signer is stopped and a new one started", async () => {
  const { subjects, kv } = await system();
  const first = await replica(subjects);
  const c1 = clients(subjects);
  await granted(c1.exec, "main");
  const reply = await c1.admin.admin("revoke", { keyId: "main" });
  assert.equal(reply.revoked, 2);
  assert.equal(reply.problems, undefined);
  await refused(c1.exec.sign({ keyId: "main", ...GET }));

  const entry = await kv.get("signer.revoked.main");
  assert.equal(entry?.operation, "PUT");
  const value = entry?.json<Record<string, unknown>>() ?? {};
  assert.deepEqual(Object.keys(value).sort(), ["at", "by"]);
  assert.equal(value.by, "operator");
  assert.ok(!Number.isNaN(Date.parse(String(value.at))));

  await stopReplica(first);
  const second = await replica(subjects);
  assert.ok(second.signer.ready());
  const c2 = clients(subjects);
  await refused(c2.exec.sign({ keyId: "main", ...GET }));
  await refused(c2.exec.sign({ keyId: "main", keyVersion: 1, ...GET }));
  await granted(c2.exec, "other");
  const listed = await c2.admin.admin("list");
  assert.deepEqual(
    listed.keys?.filter((k) => k.key_id === "main").map((k) => `${k.version} ${k.status}`),
    ["2 revoked", "1 revoked"],
  );
  await stopReplica(second);
});

test("signer revocations - a replica started after a one-version revocation refuses that version only; then all versions", async () => {
  const { subjects, kv } = await system();
  const a = await replica(subjects);
  const ca = clients(subjects);
  const one = await ca.admin.admin("revoke", { keyId: "main", version: 2 });
  assert.equal(one.revoked, 1);
  assert.ok((await kv.get("signer.revoked.main.v2"))?.json<{ version: number }>().version === 2);
  await refused(ca.exec.sign({ keyId: "main", keyVersion: 2, ...GET }));

  const b = await replica(subjects);
  const cb = createSignerClient({
    nc: b.conn,
    subjects,
    callerId: "order-exec",
    privateJwk: exec.privateJwk,
    timeoutMs: 10_000,
  });
  // Only the replica started later answers from here on.
  await stopReplica(a);
  await refused(cb.sign({ keyId: "main", keyVersion: 2, ...GET }));
  await granted(cb, "main");
  await granted(cb, "main", 1);
  const listedB = await createSignerClient({
    nc: b.conn,
    subjects,
    callerId: "operator",
    privateJwk: operator.privateJwk,
  }).admin("list");
  assert.deepEqual(
    listedB.keys?.filter((k) => k.key_id === "main").map((k) => `${k.version} ${k.status}`),
    ["2 revoked", "1 active"],
  );

  const all = await ca.admin.admin("revoke", { keyId: "main" });
  assert.equal(all.revoked, 2);
  await refused(cb.sign({ keyId: "main", ...GET }));
  await refused(cb.sign({ keyId: "main", keyVersion: 1, ...GET }));
  await stopReplica(b);
});

test("signer revocations - an unreadable entry revokes every version of its key id, at start and from the watch, and is logged", async () => {
  const { subjects, kv } = await system();
  await kv.put("signer.revoked.main.v1", "{not json");
  const r = await replica(subjects);
  const c = clients(subjects);
  await refused(c.exec.sign({ keyId: "main", ...GET }));
  await refused(c.exec.sign({ keyId: "main", keyVersion: 2, ...GET }));
  await granted(c.exec, "other");
  assert.ok(
    logLines.some((l) => /revocation entry unreadable/.test(l) && l.includes('"key_id":"main"')),
  );
  assert.ok(!logLines.some((l) => l.includes("{not json")), "the value is not echoed");

  // A readable value whose version disagrees with its key name is unreadable too.
  await kv.put(
    "signer.revoked.other.v1",
    JSON.stringify({ at: new Date().toISOString(), by: "x" }),
  );
  await eventually(async () => {
    try {
      await c.exec.sign({ keyId: "other", ...GET });
      return false;
    } catch (e) {
      return isUplineError(e, "SIGNER_KEY_NOT_ALLOWED");
    }
  });
  await stopReplica(r);
});

test("signer revocations - deleting the entry from KV control lifts exactly that revocation on running replicas", async () => {
  const { subjects, kv } = await system();
  const r = await replica(subjects);
  const c = clients(subjects);
  await c.admin.admin("revoke", { keyId: "main" });
  await c.admin.admin("revoke", { keyId: "main", version: 1 });
  await refused(c.exec.sign({ keyId: "main", ...GET }));

  await kv.delete("signer.revoked.main");
  await eventually(async () => {
    try {
      await granted(c.exec, "main");
      return true;
    } catch {
      return false;
    }
  });
  // The one-version revocation still holds.
  await refused(c.exec.sign({ keyId: "main", keyVersion: 1, ...GET }));
  // A restart reads the same: the deleted entry no longer counts.
  await stopReplica(r);
  const again = await replica(subjects);
  const c2 = clients(subjects);
  await granted(c2.exec, "main", 2);
  await refused(c2.exec.sign({ keyId: "main", keyVersion: 1, ...GET }));
  await stopReplica(again);
});

test("signer revocations - an admin revoke refuses a key id that is not valid and writes nothing", async () => {
  const { subjects, kv } = await system();
  const r = await replica(subjects);
  const c = clients(subjects);
  await assert.rejects(c.admin.admin("revoke", { keyId: "Main.x" }), (e: unknown) =>
    isUplineError(e, "SIGNER_PARAMS_INVALID"),
  );
  const names: string[] = [];
  for await (const k of await kv.keys("signer.revoked.>")) names.push(k);
  assert.deepEqual(names, []);
  await stopReplica(r);
});

test("signer revocations - a revoke whose KV write fails still refuses the key here and says it was not persisted", async () => {
  const { subjects } = await system();
  const r = await replica(subjects);
  const c = clients(subjects);
  await granted(c.exec, "main");
  const jsm = await jetstreamManager(nc);
  await jsm.streams.delete(`KV_${subjects.buckets.control}`);
  const reply = await c.admin.admin("revoke", { keyId: "main" });
  assert.equal(reply.revoked, 2);
  assert.match(reply.problems?.[0] ?? "", /not persisted in KV control/);
  await refused(c.exec.sign({ keyId: "main", ...GET }));
  await stopReplica(r);
});

test("signer revocations - a signer that cannot read KV control does not start and is not ready", async () => {
  const subjects = createSubjects(uniqueNamespace()); // no ensureStreams: no bucket `control`
  const conn = await connectBus({ NATS_URL: url }, { name: "signer-no-kv", logger });
  const signer = buildSigner({ nc: conn, subjects, logger, settings: signerSettings(dirs) });
  await assert.rejects(signer.start());
  assert.equal(signer.ready(), false);
  assert.equal(signer.detail().revocations, "unknown");
  await signer.stop();
  await conn.close();
});
