/**
 * The acceptance scenarios, each against its own simulator (faults
 * differ) on the shared NATS, with a real signer and two order-exec replicas.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { Kvm } from "@nats-io/kv";
import type { OrderReply } from "@upline/shared";
import { eventually } from "@upline/testkit";
import { claimKey } from "../src/index.ts";
import { type Harness, limitBuy, startHarness } from "./harness.ts";

const run = async (
  h: Harness | undefined,
  body: (h: Harness) => Promise<void>,
  start: () => Promise<Harness>,
) => {
  h = await start();
  try {
    await body(h);
  } finally {
    await h.stop();
  }
};

/** Runs `fn` over `items` with at most `n` in flight. */
async function pool<T, R>(items: readonly T[], n: number, fn: (t: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: n }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i] as T);
      }
    }),
  );
  return out;
}

describe("order-exec acceptance", () => {
  test("order-exec - 1,000 intents with 10% repeated ids over two replicas make exactly the unique count of orders", async () => {
    await run(
      undefined,
      async (h) => {
        const unique = Array.from({ length: 900 }, (_, i) => limitBuy(`dup-${process.pid}-${i}`));
        const repeats = Array.from(
          { length: 100 },
          (_, i) => unique[(i * 7) % 900] as Record<string, unknown>,
        );
        const all = [...unique, ...repeats].sort(() => Math.random() - 0.5);
        const replies = await pool(all, 64, (intent) => h.place(intent, 20_000));
        const byId = new Map<string, OrderReply[]>();
        for (const r of replies)
          byId.set(r.client_order_id, [...(byId.get(r.client_order_id) ?? []), r]);
        for (const [id, rs] of byId) {
          assert.equal(rs[0]?.status, "accepted", `${id}: ${JSON.stringify(rs[0])}`);
          for (const r of rs) assert.deepEqual(r, rs[0], `${id} answered the same`);
        }
        const orders = h.sim.admin
          .orders(h.accessKey)
          .filter((o) => o.identifier?.startsWith(`dup-${process.pid}-`));
        assert.equal(orders.length, 900);
        assert.equal(new Set(orders.map((o) => o.identifier)).size, 900);
        assert.equal(h.sim.admin.counters().sent429, 0);
      },
      () =>
        startHarness({
          replicas: 2,
          sim: { rateLimits: { order: 400 } },
          settings: { orderLimit: 400, queueMs: 15_000 },
        }),
    );
  });

  test("order-exec - dropped order responses: no duplicates, callers see unknown then the resolving event", async () => {
    await run(
      undefined,
      async (h) => {
        h.sim.admin.setFaults({ dropOrderResponses: 20, routes: ["POST /v1/orders"] });
        const intents = Array.from({ length: 100 }, (_, i) => limitBuy(`drop-${process.pid}-${i}`));
        const replies = await pool(intents, 10, (intent) => h.place(intent, 20_000));
        const unknown = replies.filter((r) => r.status === "unknown");
        assert.equal(h.sim.admin.counters().droppedResponses, 20);
        assert.equal(
          unknown.length,
          20,
          JSON.stringify(replies.filter((r) => r.status !== "accepted")),
        );
        assert.ok(replies.every((r) => r.status !== "rejected"));
        const kv = await new Kvm(h.nc).open(h.subjects.buckets.orderIds);
        await eventually(
          async () => {
            for (const r of unknown) {
              const events = h.events.filter((e) => e.client_order_id === r.client_order_id);
              assert.ok(
                events.some((e) => e.type === "unknown"),
                `unknown event for ${r.client_order_id}`,
              );
              assert.ok(
                events.some((e) => e.type === "accepted" && e.uuid),
                `accepted event for ${r.client_order_id}`,
              );
              const entry = await kv.get(claimKey("main", r.client_order_id));
              assert.equal(JSON.parse(entry?.string() ?? "{}").state, "accepted");
            }
            return true;
          },
          { timeoutMs: 20_000, intervalMs: 50 },
        );
        const orders = h.sim.admin
          .orders(h.accessKey)
          .filter((o) => o.identifier?.startsWith(`drop-${process.pid}-`));
        assert.equal(orders.length, 100, "one order per intent, none twice");
        assert.equal(new Set(orders.map((o) => o.identifier)).size, 100);
      },
      () =>
        startHarness({ replicas: 2, sim: { rateLimits: false }, settings: { governor: false } }),
    );
  });

  test("order-exec - 5xx before execution: proven absent by lookup, then resubmitted once with the same identifier", async () => {
    await run(
      undefined,
      async (h) => {
        h.sim.admin.setFaults({ errorRate: 0.3, routes: ["POST /v1/orders"] });
        const intents = Array.from({ length: 30 }, (_, i) => limitBuy(`5xx-${process.pid}-${i}`));
        const replies = await pool(intents, 5, (intent) => h.place(intent, 20_000));
        const unknown = replies.filter((r) => r.status === "unknown");
        assert.ok(unknown.length > 0, "some requests met a 500");
        await eventually(
          () => {
            const orders = h.sim.admin
              .orders(h.accessKey)
              .filter((o) => o.identifier?.startsWith(`5xx-${process.pid}-`));
            assert.equal(orders.length, 30);
            return true;
          },
          { timeoutMs: 30_000, intervalMs: 50 },
        );
        await eventually(() =>
          unknown.every((r) =>
            h.events.some((e) => e.client_order_id === r.client_order_id && e.type === "accepted"),
          ),
        );
        const orders = h.sim.admin
          .orders(h.accessKey)
          .filter((o) => o.identifier?.startsWith(`5xx-${process.pid}-`));
        assert.equal(new Set(orders.map((o) => o.identifier)).size, 30);
      },
      () =>
        startHarness({
          replicas: 1,
          sim: { rateLimits: false },
          settings: { governor: false, absentAfterMs: 100 },
        }),
    );
  });

  test("order-exec - 3x the order limit: zero 429s and at least 95% of the limit achieved; a 429 storm is backed off without a 418", async () => {
    await run(
      undefined,
      async (h) => {
        const limit = 12;
        const seconds = 6;
        const offered = 3 * limit * seconds;
        const sent: Promise<OrderReply>[] = [];
        const started = Date.now();
        for (let i = 0; i < offered; i++) {
          const due = started + (i * 1000) / (3 * limit);
          while (Date.now() < due) await new Promise<void>((r) => setImmediate(r));
          sent.push(h.place(limitBuy(`load-${process.pid}-${i}`), 20_000));
        }
        const replies = await Promise.all(sent);
        assert.equal(h.sim.admin.counters().sent429, 0, "zero 429s");
        const created = h.sim.admin
          .orders(h.accessKey)
          .filter((o) => o.identifier?.startsWith(`load-${process.pid}-`))
          .map((o) => o.createdAt);
        const first = Math.floor(Math.min(...created) / 1000) + 1;
        const last = Math.floor(Math.max(...created) / 1000) - 1;
        const windows = last - first + 1;
        assert.ok(windows >= seconds - 2, `${windows} full windows`);
        const inFull = created.filter(
          (t) => Math.floor(t / 1000) >= first && Math.floor(t / 1000) <= last,
        ).length;
        const achieved = inFull / (windows * limit);
        assert.ok(
          achieved >= 0.95,
          `achieved ${(achieved * 100).toFixed(1)}% of ${limit}/s over ${windows} s`,
        );
        const refused = replies.filter((r) => r.status === "rejected");
        assert.ok(
          refused.every((r) => r.error?.code === "UPBIT_RATE_LIMITED"),
          "overflow refused as rate limited",
        );

        // A 429 storm: every request answered 429 for 3 s while intents keep coming.
        h.sim.admin.setFaults({ rateLimitStorm: true });
        const before = h.sim.admin.counters().sent429;
        const storm: Promise<OrderReply>[] = [];
        const stormStart = Date.now();
        let i = 0;
        while (Date.now() - stormStart < 3_000) {
          storm.push(h.place(limitBuy(`storm-${process.pid}-${i++}`), 20_000));
          const due = stormStart + i * 50;
          while (Date.now() < due) await new Promise<void>((r) => setImmediate(r));
        }
        h.sim.admin.clearFaults();
        await Promise.all(storm);
        const during = h.sim.admin.counters().sent429 - before;
        assert.ok(
          during >= 1 && during <= 5,
          `${during} 429s in a 3 s storm (a 418 follows 10 in 10 s)`,
        );
        await eventually(async () => (await h.place(limitBuy(), 20_000)).status === "accepted", {
          timeoutMs: 20_000,
          intervalMs: 200,
        });
        assert.equal(h.sim.admin.counters().sent418, 0, "no 418");
      },
      () =>
        startHarness({
          replicas: 2,
          sim: { rateLimits: { order: 12 } },
          settings: { orderLimit: 12, queueMs: 2_000 },
        }),
    );
  });

  test("order-exec - a 418 stops exchange calls, halts trading in KV control and is audited", async () => {
    await run(
      undefined,
      async (h) => {
        // Another client on the same keys (same pocket) bursts past the limit and gets the pocket banned.
        const rogue = Array.from({ length: 6 }, async (_, i) => {
          const grant = await h.client.sign({
            keyId: "main",
            method: "POST",
            path: "/v1/orders",
            body: {
              market: "KRW-BTC",
              side: "bid",
              ord_type: "limit",
              price: "90000000",
              volume: "0.0001",
              identifier: `rogue-${process.pid}-${i}`,
            },
          });
          const res = await fetch(`${h.sim.restUrl}/v1/orders`, {
            method: "POST",
            headers: {
              authorization: grant.authorization,
              "content-type": "application/json; charset=utf-8",
            },
            body: grant.body ?? "",
          });
          await res.arrayBuffer();
          return res.status;
        });
        assert.ok((await Promise.all(rogue)).includes(418));
        const replies = await pool(
          Array.from({ length: 4 }, (_, i) => limitBuy(`ban-${process.pid}-${i}`)),
          4,
          (intent) => h.place(intent, 20_000),
        );
        assert.ok(h.sim.admin.counters().sent418 >= 1, "the exchange banned us");
        assert.ok(replies.some((r) => r.error?.code === "UPBIT_BANNED"));
        await eventually(() => h.execs.every((e) => e.trading() === "halted"), {
          timeoutMs: 5_000,
        });
        await eventually(() => h.audits.some((a) => a.kind === "exchange_ban"));
        const after = await h.place(limitBuy());
        assert.equal(after.error?.code, "ORDER_TRADING_HALTED");
      },
      () =>
        startHarness({
          replicas: 2,
          sim: { rateLimits: { order: 2, teapotAfter: 0, banMs: 3_000 } },
          settings: { orderLimit: 2 },
        }),
    );
  });
});
