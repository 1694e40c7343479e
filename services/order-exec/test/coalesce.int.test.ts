/**
 * Coalesced writes on a real nats-server connection: everything published in
 * one loop turn — from separate microtasks, as awaiting handlers do — leaves
 * in one socket write, in order; requests, flush, drain and a full buffer
 * still work.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import type { NatsConnection } from "@nats-io/transport-node";
import { connectBus } from "@upline/shared";
import { startNats } from "@upline/testkit";
import { coalesceWrites } from "../src/index.ts";
import { logger } from "./harness.ts";

let url: string;
const conns: NatsConnection[] = [];

before(async () => {
  url = (await startNats()).url;
});
after(async () => {
  for (const c of conns) await c.drain().catch(() => undefined);
});

const connect = async (name: string) => {
  const nc = await connectBus({ NATS_URL: url }, { name, logger });
  conns.push(nc);
  return nc;
};

/** Counts the writes on the connection's socket (nats.js internals, test only). */
const countWrites = (nc: NatsConnection) => {
  const socket = (nc as unknown as { protocol: { transport: { socket: { write: unknown } } } })
    .protocol.transport.socket as { write: (...a: unknown[]) => boolean };
  const original = socket.write.bind(socket);
  const counter = { writes: 0 };
  socket.write = (...a: unknown[]) => {
    counter.writes++;
    return original(...a);
  };
  return counter;
};

test("messages published from many microtasks of one turn leave in one write, in order", async () => {
  const sender = await connect("coalesce-sender");
  const receiver = await connect("coalesce-receiver");
  const got: number[] = [];
  let all!: () => void;
  const done = new Promise<void>((r) => {
    all = r;
  });
  receiver.subscribe("coalesce.test", {
    callback: (_e, m) => {
      got.push(Number(m.string()));
      if (got.length === 100) all();
    },
  });
  await receiver.flush();
  assert.equal(coalesceWrites(sender), true);
  assert.equal(coalesceWrites(sender), true, "a second call is a no-op");
  const counter = countWrites(sender);
  await new Promise<void>((resolve) => {
    setImmediate(async () => {
      for (let i = 0; i < 100; i++) {
        await Promise.resolve();
        sender.publish("coalesce.test", String(i));
      }
      resolve();
    });
  });
  await done;
  assert.deepEqual(
    got,
    Array.from({ length: 100 }, (_, i) => i),
  );
  assert.equal(counter.writes, 1);
});

test("request-reply, flush and a buffer over the limit still work", async () => {
  const server = await connect("coalesce-server");
  const client = await connect("coalesce-client");
  coalesceWrites(server);
  coalesceWrites(client);
  server.subscribe("coalesce.echo", {
    callback: (_e, m) => {
      m.respond(m.data);
    },
  });
  await server.flush();
  const replies = await Promise.all(
    Array.from({ length: 50 }, (_, i) => client.request("coalesce.echo", String(i))),
  );
  assert.deepEqual(
    replies.map((r) => r.string()),
    Array.from({ length: 50 }, (_, i) => String(i)),
  );
  // More than nats.js's 32 KiB pending limit in one turn: flushed inline, nothing lost.
  const big = "x".repeat(4096);
  let n = 0;
  let all!: () => void;
  const done = new Promise<void>((r) => {
    all = r;
  });
  const sub = server.subscribe("coalesce.big", {
    callback: () => {
      if (++n === 40) all();
    },
  });
  await server.flush();
  for (let i = 0; i < 40; i++) client.publish("coalesce.big", big);
  await client.flush();
  await done;
  assert.equal(n, 40);
  sub.unsubscribe();
});
