/**
 * deploy/nats: the server itself enforces who may publish and subscribe to what.
 * A dedicated nats-server runs deploy/nats/nats.conf (users and permissions from
 * auth.conf) with passwords generated here; each test connects as one service.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { after, before, describe, test } from "node:test";
import { AckPolicy, jetstream, jetstreamManager } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import {
  connect,
  type NatsConnection,
  PermissionViolationError,
  usernamePasswordAuthenticator,
} from "@nats-io/transport-node";
import { connectBus, createLogger, createSubjects, ensureStreams } from "@upline/shared";
import { eventually, type ManagedServer, startNats } from "@upline/testkit";
import { natsPassword } from "../scripts/dev-secrets.ts";

const natsDir = resolve(import.meta.dirname, "../nats");
const USERS = ["market-feed", "order-exec", "signer", "audit", "strategy", "admin"] as const;
type User = (typeof USERS)[number];
const envName = (user: User) => `NATS_PASSWORD_${user.toUpperCase().replace("-", "_")}`;
const passwords = Object.fromEntries(USERS.map((u) => [u, natsPassword()])) as Record<User, string>;
const subjects = createSubjects("");
const logger = createLogger({ service: "cli", level: "silent" });

let server: ManagedServer;
const open: NatsConnection[] = [];

/** A connection as `user`, replies under its own inbox prefix, as deploy/ configures it. */
async function as(user: User): Promise<NatsConnection> {
  const nc = await connectBus(
    {
      NATS_URL: server.url,
      NATS_USER: user,
      NATS_PASSWORD: passwords[user],
      NATS_INBOX_PREFIX: `_INBOX.${user}`,
    },
    { name: `test-${user}`, logger, firstConnectTimeoutMs: 10_000 },
  );
  open.push(nc);
  return nc;
}

/** Resolves with the server's permission errors on this connection. */
function violations(nc: NatsConnection): PermissionViolationError[] {
  const seen: PermissionViolationError[] = [];
  void (async () => {
    for await (const s of nc.status()) {
      if (s.type === "error" && s.error instanceof PermissionViolationError) seen.push(s.error);
    }
  })();
  return seen;
}

function causeChain(err: unknown): unknown[] {
  const out: unknown[] = [];
  for (let e = err; e !== undefined && e !== null; e = (e as { cause?: unknown }).cause) {
    out.push(e);
    if (out.length > 5) break;
  }
  return out;
}

before(async () => {
  server = await startNats({
    dedicated: true,
    config: readFileSync(resolve(natsDir, "nats.conf"), "utf8"),
    configFiles: { "auth.conf": readFileSync(resolve(natsDir, "auth.conf"), "utf8") },
    environment: Object.fromEntries(USERS.map((u) => [envName(u), passwords[u]])),
  });
  // Streams and buckets exist before anyone uses them (as after any service's start).
  await ensureStreams(await as("market-feed"), subjects);
});

after(async () => {
  await Promise.allSettled(open.map((nc) => nc.close()));
  await server?.stop();
});

describe("deploy/nats permissions", () => {
  test("nats - refuses a client without a password, and a wrong one", async () => {
    await assert.rejects(connect({ servers: server.url, reconnect: false, timeout: 5_000 }));
    await assert.rejects(
      connect({
        servers: server.url,
        reconnect: false,
        timeout: 5_000,
        authenticator: usernamePasswordAuthenticator("signer", "not-the-password"),
      }),
    );
  });

  test("nats - every service runs ensureStreams() with its own user", async () => {
    for (const user of ["order-exec", "signer", "audit"] as const) {
      const result = await ensureStreams(await as(user), subjects);
      assert.equal(result.created.length, 0, `${user} found the streams in place`);
    }
  });

  test("nats - order-exec's sign request reaches the signer and the reply comes back", async () => {
    const signer = await as("signer");
    const sub = signer.subscribe(subjects.signer.sign, {
      queue: subjects.signer.queue,
      callback: (_err, msg) => {
        msg.respond(`signed:${msg.string()}`);
      },
    });
    await signer.flush();
    const orderExec = await as("order-exec");
    const reply = await orderExec.request(subjects.signer.sign, "r1", { timeout: 5_000 });
    assert.equal(reply.string(), "signed:r1");
    sub.unsubscribe();
  });

  test("nats - market-feed's request to signer.v1.sign is refused by the server", async () => {
    const signer = await as("signer");
    let reached = 0;
    const sub = signer.subscribe(subjects.signer.sign, {
      queue: subjects.signer.queue,
      callback: (_err, msg) => {
        reached++;
        msg.respond("signed");
      },
    });
    await signer.flush();
    const feed = await as("market-feed");
    const seen = violations(feed);
    const err = await feed.request(subjects.signer.sign, "forged", { timeout: 3_000 }).then(
      () => assert.fail("market-feed got a signature"),
      (e: unknown) => e,
    );
    await eventually(() =>
      seen.some((v) => v.operation === "publish" && v.subject === subjects.signer.sign),
    );
    assert.ok(
      causeChain(err).some((e) => e instanceof PermissionViolationError),
      `the request failed with the permission violation, not ${String(err)}`,
    );
    assert.equal(reached, 0, "the signer never saw market-feed's request");
    sub.unsubscribe();
  });

  test("nats - audit's order intent is refused by the server", async () => {
    const orderExec = await as("order-exec");
    let reached = 0;
    const sub = orderExec.subscribe(subjects.orders.place, {
      queue: subjects.orders.queue,
      callback: (_err, msg) => {
        reached++;
        msg.respond("{}");
      },
    });
    await orderExec.flush();
    const audit = await as("audit");
    const seen = violations(audit);
    audit.publish(subjects.orders.place, JSON.stringify({ client_order_id: "x" }));
    await audit.flush();
    await eventually(() =>
      seen.some((v) => v.operation === "publish" && v.subject === subjects.orders.place),
    );
    // The strategy user may place orders: the same subscription answers it.
    const strategy = await as("strategy");
    await strategy.request(subjects.orders.place, "{}", { timeout: 5_000 });
    assert.equal(reached, 1, "only the strategy's intent reached order-exec");
    sub.unsubscribe();
  });

  test("nats - only the signer may subscribe to signer subjects", async () => {
    for (const user of ["market-feed", "order-exec", "audit", "strategy"] as const) {
      const nc = await as(user);
      const seen = violations(nc);
      nc.subscribe(subjects.signer.sign, { queue: subjects.signer.queue, callback: () => {} });
      nc.subscribe(subjects.signer.admin("rotate"), { callback: () => {} });
      await nc.flush();
      await eventually(
        () =>
          seen.some((v) => v.operation === "subscription" && v.subject === subjects.signer.sign) &&
          seen.some(
            (v) => v.operation === "subscription" && v.subject === subjects.signer.admin("rotate"),
          ),
        { message: `${user} was refused both subscriptions` },
      );
    }
  });

  test("nats - signer.v1.admin.* is the operator's: order-exec is refused, admin is answered", async () => {
    const orderExec = await as("order-exec");
    const seen = violations(orderExec);
    orderExec.publish(subjects.signer.admin("rotate"), "{}");
    await orderExec.flush();
    await eventually(() =>
      seen.some((v) => v.operation === "publish" && v.subject === subjects.signer.admin("rotate")),
    );
    const signer = await as("signer");
    const sub = signer.subscribe(subjects.signer.adminAll, {
      callback: (_err, msg) => {
        msg.respond("ok");
      },
    });
    await signer.flush();
    const admin = await as("admin");
    assert.equal(
      (await admin.request(subjects.signer.admin("rotate"), "{}", { timeout: 5_000 })).string(),
      "ok",
    );
    sub.unsubscribe();
  });

  test("nats - a service cannot read another's replies", async () => {
    const feed = await as("market-feed");
    const seen = violations(feed);
    feed.subscribe("_INBOX.order-exec.>", { callback: () => {} });
    feed.subscribe("_INBOX.>", { callback: () => {} });
    await feed.flush();
    await eventually(() => seen.filter((v) => v.operation === "subscription").length === 2);
  });

  test("nats - only audit consumes stream AUDIT", async () => {
    const durable = `audit-${randomBytes(4).toString("hex")}`;
    for (const user of ["market-feed", "order-exec", "signer", "strategy"] as const) {
      const jsm = await jetstreamManager(await as(user), { checkAPI: false });
      await assert.rejects(
        jsm.consumers.add(subjects.streams.audit, {
          durable_name: durable,
          ack_policy: AckPolicy.Explicit,
        }),
        `${user} cannot create a consumer on AUDIT`,
      );
    }
    const audit = await as("audit");
    const jsm = await jetstreamManager(audit);
    await jsm.consumers.add(subjects.streams.audit, {
      durable_name: durable,
      ack_policy: AckPolicy.Explicit,
    });
    // order-exec's audit event, acknowledged by JetStream, is consumed and acked by audit.
    const orderExec = await as("order-exec");
    const ack = await jetstream(orderExec).publish(
      subjects.audit.event("order-exec", "test"),
      "{}",
    );
    assert.equal(ack.stream, subjects.streams.audit);
    const consumer = await jetstream(audit).consumers.get(subjects.streams.audit, durable);
    const msg = await consumer.next({ expires: 5_000 });
    assert.ok(msg, "audit pulled the event");
    await msg.ackAck();
  });

  test("nats - market-feed publishes market data but no audit events of another service", async () => {
    const feed = await as("market-feed");
    const ack = await jetstream(feed).publish(subjects.md.event("ticker", "KRW-BTC"), "{}");
    assert.equal(ack.stream, subjects.streams.md);
    const seen = violations(feed);
    feed.publish(subjects.audit.event("signer", "grant"), "{}");
    await feed.flush();
    await eventually(() =>
      seen.some(
        (v) => v.operation === "publish" && v.subject === subjects.audit.event("signer", "grant"),
      ),
    );
  });

  test("nats - order-exec uses KV order-ids and watches control; the signer reads control and writes only revocations", async () => {
    const orderExec = await as("order-exec");
    const kvm = new Kvm(orderExec);
    const ids = await kvm.open(subjects.buckets.orderIds);
    await ids.put("acct.c1", "claimed");
    assert.equal((await ids.get("acct.c1"))?.string(), "claimed");
    const control = await kvm.open(subjects.buckets.control);
    const watcher = await control.watch({ key: subjects.controlTradingKey });
    await control.put(subjects.controlTradingKey, "halted");
    for await (const e of watcher) {
      assert.equal(e.string(), "halted");
      break;
    }
    const signer = await as("signer");
    const signerControl = await new Kvm(signer).open(subjects.buckets.control);
    assert.equal((await signerControl.get(subjects.controlTradingKey))?.string(), "halted");
    await assert.rejects(signerControl.put(subjects.controlTradingKey, "active"));
    assert.equal((await signerControl.get(subjects.controlTradingKey))?.string(), "halted");

    // Key revocations (services/signer/src/revocations.ts): written and watched by the signer.
    const seen = violations(signer);
    const revocations = await signerControl.watch({ key: "signer.revoked.>" });
    const value = JSON.stringify({ at: new Date().toISOString(), by: "operator" });
    await signerControl.put("signer.revoked.main", value);
    await signerControl.put("signer.revoked.main.v2", value);
    const watched: string[] = [];
    for await (const e of revocations) {
      watched.push(e.key);
      if (watched.length === 2) break;
    }
    assert.deepEqual(watched, ["signer.revoked.main", "signer.revoked.main.v2"]);
    const all = await signerControl.watch();
    for await (const e of all) {
      assert.ok(["trading", "signer.revoked.main", "signer.revoked.main.v2"].includes(e.key));
      if (e.key === "signer.revoked.main.v2") break;
    }
    // The signer lists revocation keys at start with one stream-info request.
    const info = await (await jetstreamManager(signer)).streams.info("KV_control", {
      subjects_filter: "$KV.control.signer.revoked.>",
    });
    assert.deepEqual(Object.keys(info.state.subjects ?? {}).sort(), [
      "$KV.control.signer.revoked.main",
      "$KV.control.signer.revoked.main.v2",
    ]);
    // Nothing else in control, nothing in order-ids.
    await assert.rejects(signerControl.put("other", "x"));
    await assert.rejects(signerControl.put("signer.other", "x"));
    await assert.rejects(signerControl.delete(subjects.controlTradingKey));
    const signerIds = await new Kvm(signer).open(subjects.buckets.orderIds);
    await assert.rejects(signerIds.put("acct.c2", "claimed"));
    assert.equal(await ids.get("acct.c2"), null);
    await eventually(() =>
      seen.some((v) => v.operation === "publish" && v.subject === "$KV.control.other"),
    );
    // Others still may not write revocations.
    await assert.rejects(control.put("signer.revoked.main", value));
    await assert.rejects(
      new Kvm(await as("strategy"))
        .open(subjects.buckets.control)
        .then((kv) => kv.put("signer.revoked.main", value)),
    );
  });
});
