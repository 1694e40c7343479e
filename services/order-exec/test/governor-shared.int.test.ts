import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { Kvm } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/transport-node";
import {
  connectBus,
  createJsPublisher,
  createSubjects,
  ensureStreams,
  type JsPublisher,
} from "@upline/shared";
import { eventually, startNats, uniqueNamespace } from "@upline/testkit";
import { createGovernor } from "@upline/upbit";
import { createKvGovernorStore, type KvGovernorStore } from "../src/index.ts";
import { logger } from "./harness.ts";

const subjects = createSubjects(uniqueNamespace());
const conns: NatsConnection[] = [];
const stores: KvGovernorStore[] = [];
const publishers: JsPublisher[] = [];

before(async () => {
  const nats = await startNats();
  for (let i = 0; i < 2; i++)
    conns.push(await connectBus({ NATS_URL: nats.url }, { name: `gov-${i}`, logger }));
  await ensureStreams(conns[0] as NatsConnection, subjects);
});
after(async () => {
  for (const s of stores) s.stop();
  for (const p of publishers) await p.close();
  for (const c of conns) await c.drain();
});

test("governor - two replicas on one NATS share one budget per window and see each other's ban", async () => {
  const govs = [];
  const bans: number[] = [];
  for (const nc of conns) {
    // As app.ts wires it: revision-checked writes through the fast publisher.
    const publisher = createJsPublisher(nc);
    publishers.push(publisher);
    const store = createKvGovernorStore(
      await new Kvm(nc).open(subjects.buckets.orderIds),
      "shared",
      { publisher, bucket: subjects.buckets.orderIds },
    );
    await store.start();
    stores.push(store);
    govs.push(
      createGovernor({
        store,
        limits: { order: { limit: 10, windowMs: 1000 } },
        onBan: (u) => bans.push(u),
      }),
    );
  }
  const grants: number[] = [];
  const start = Date.now();
  const end = start - (start % 1000) + 3000;
  await Promise.all(
    govs.flatMap((g) =>
      Array.from({ length: 8 }, async () => {
        while (Date.now() < end) {
          try {
            const slot = await g.acquire("order", end);
            if (slot.sentAt < end) grants.push(slot.sentAt);
          } catch {
            return;
          }
        }
      }),
    ),
  );
  const windows = new Map<number, number>();
  for (const t of grants)
    windows.set(Math.floor(t / 1000), (windows.get(Math.floor(t / 1000)) ?? 0) + 1);
  for (const [w, n] of windows) assert.ok(n <= 10, `window ${w}: ${n} grants across both replicas`);
  const full = [...windows].filter(([w]) => w * 1000 > start && w * 1000 + 1000 <= end);
  assert.ok(full.length >= 1);
  for (const [w, n] of full) assert.ok(n >= 9, `window ${w}: only ${n} grants`);

  const [a, b] = govs as [ReturnType<typeof createGovernor>, ReturnType<typeof createGovernor>];
  const slot = await a.acquire("default", Date.now() + 2000);
  await a.observe("default", slot, { status: 418, retryAfterMs: 5000 });
  assert.equal(bans.length, 1);
  await eventually(() => b.bannedUntil() > Date.now(), {
    message: "the ban reached the other replica",
  });
  await assert.rejects(
    b.acquire("order", Date.now() + 1000),
    (err: { code?: string }) => err.code === "UPBIT_BANNED",
  );
});
