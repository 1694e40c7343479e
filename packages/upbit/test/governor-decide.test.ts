import assert from "node:assert/strict";
import { test } from "node:test";
import {
  banUntil,
  createGovernor,
  createMemoryGovernorStore,
  EMPTY_GROUP,
  type GroupState,
  observeRateGroup as observe,
  takeRateSlot as take,
} from "../src/index.ts";

const ORDER = { limit: 12, windowMs: 1000, guardMs: 50 };

/** Takes slots greedily from `from` to `to` (ms), jumping to each wait's end; returns the grant times. */
function drive(from: number, to: number, state: GroupState = EMPTY_GROUP): number[] {
  const grants: number[] = [];
  let s = state;
  let now = from;
  while (now < to) {
    const d = take(ORDER, s, now);
    s = d.state;
    if (d.kind === "go") grants.push(now);
    else now = d.untilMs;
  }
  return grants;
}

test("governor - paces a saturated group to exactly the limit per window, none in the guard band", () => {
  const grants = drive(10_000, 15_000);
  for (let w = 10; w < 15; w++) {
    const inWindow = grants.filter((t) => Math.floor(t / 1000) === w);
    assert.equal(inWindow.length, 12, `window ${w}`);
    assert.ok(
      inWindow.every((t) => t % 1000 < 950),
      "no grant in the last 50 ms",
    );
  }
  // Spread over the window, not a burst at its start.
  const first = grants.filter((t) => Math.floor(t / 1000) === 10);
  assert.ok((first[11] as number) - (first[0] as number) > 600);
});

test("governor - slots whose wake-up comes late are still granted before the guard band", () => {
  // The last slot is due well before the guard band: a wake-up up to 300 ms late still gets it.
  const last = take(ORDER, { ...EMPTY_GROUP, windowStart: 30_000, used: 11 }, 30_000);
  assert.equal(last.kind, "wait");
  assert.ok(
    last.kind === "wait" && last.untilMs <= 30_650,
    `last slot due at ${last.kind === "wait" ? last.untilMs : 0}`,
  );
  // A window whose requests all woke late (nothing between 300 ms and 940 ms)
  // still grants its whole budget, all of it before the guard band.
  const early = drive(30_000, 30_300);
  const s = { ...EMPTY_GROUP, windowStart: 30_000, used: early.length };
  const late = drive(30_940, 31_000, s);
  assert.equal(early.length + late.filter((t) => t < 31_000).length, 12);
  assert.ok(
    late.every((t) => t < 30_950 || t >= 31_000),
    "none in the guard band",
  );
});

test("governor - Remaining-Req raises the count to what the exchange has seen", () => {
  const s = { ...EMPTY_GROUP, windowStart: 20_000, used: 2 };
  const after = observe(ORDER, s, 20_100, { status: 201, remaining: 3, sentAt: 20_090 });
  assert.equal(after.used, 9);
  // A lower count from the exchange never lowers ours.
  assert.equal(
    observe(ORDER, after, 20_200, { status: 201, remaining: 11, sentAt: 20_190 }).used,
    9,
  );
  // A response about the previous window does not touch the current one.
  assert.equal(
    observe(ORDER, after, 21_010, { status: 201, remaining: 0, sentAt: 20_990 }).used,
    0,
  );
  const d = take(ORDER, { ...after, used: 12 }, 20_300);
  assert.deepEqual([d.kind, d.kind === "wait" ? d.untilMs : 0], ["wait", 21_000]);
});

test("governor - a 429 stops the group until its window passes, doubling, with one probe per window", () => {
  let s = observe(ORDER, { ...EMPTY_GROUP, windowStart: 30_000, used: 3 }, 30_400, {
    status: 429,
    sentAt: 30_390,
  });
  assert.equal(s.blockedUntil, 31_000);
  assert.equal(take(ORDER, s, 30_999).kind, "wait");
  const probe = take(ORDER, s, 31_000);
  assert.equal(probe.kind, "go");
  s = probe.state;
  assert.equal(take(ORDER, s, 31_100).kind, "wait", "one probe per window while strikes remain");
  s = observe(ORDER, s, 31_010, { status: 429, sentAt: 31_000 });
  assert.equal(s.blockedUntil, 33_000, "second 429 in a row: two windows");
  s = observe(ORDER, { ...s, windowStart: 33_000, used: 1 }, 33_010, {
    status: 201,
    remaining: 11,
    sentAt: 33_000,
  });
  assert.equal(s.strikes, 0, "a success clears the strikes");
  assert.equal(drive(34_000, 35_000, s).length, 12);
});

test("governor - a 429 storm costs at most a handful of requests in 10 s", () => {
  let s: GroupState = EMPTY_GROUP;
  let now = 50_000;
  let sent = 0;
  while (now < 60_000) {
    const d = take(ORDER, s, now);
    s = d.state;
    if (d.kind === "wait") {
      now = d.untilMs;
      continue;
    }
    sent++;
    s = observe(ORDER, s, now + 2, { status: 429, sentAt: now });
  }
  assert.ok(sent <= 5, `${sent} requests in a 10 s storm`);
});

test("governor - a 418 bans every group and raises the alarm once", async () => {
  let now = 100_000;
  const alarms: number[] = [];
  const g = createGovernor({
    store: createMemoryGovernorStore(),
    clock: () => now,
    sleep: async (ms) => {
      now += ms;
    },
    onBan: (until) => alarms.push(until),
  });
  const slot = await g.acquire("order", now + 1000);
  await g.observe("order", slot, { status: 418, retryAfterMs: 4000 });
  await g.observe("order", slot, { status: 418, retryAfterMs: 4000 });
  assert.deepEqual(alarms, [104_000]);
  await assert.rejects(
    g.acquire("default", now + 1000),
    (err: { code?: string }) => err.code === "UPBIT_BANNED",
  );
  now = 104_001;
  assert.ok(await g.acquire("default", now + 1000));
  assert.equal(banUntil(5_000, 1_000, 100), 5_000);
});

test("governor - a request that cannot get a slot before its deadline is refused, not queued forever", async () => {
  let now = 200_000;
  const g = createGovernor({
    store: createMemoryGovernorStore(),
    limits: { order: { limit: 2, windowMs: 1000 } },
    clock: () => now,
    sleep: async (ms) => {
      now += ms;
    },
  });
  await g.acquire("order", now + 100);
  await g.acquire("order", now + 1000);
  await assert.rejects(
    g.acquire("order", now + 100),
    (err: { code?: string }) => err.code === "UPBIT_RATE_LIMITED",
  );
});
