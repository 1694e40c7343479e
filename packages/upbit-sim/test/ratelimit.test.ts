import assert from "node:assert/strict";
import { test } from "node:test";
import { RateLimiter } from "../src/ratelimit.ts";

const T0 = 1_000_000;

test("ratelimit - counts down the group's budget and refuses with limited when spent", () => {
  const rl = new RateLimiter({});
  const got = Array.from({ length: 11 }, () => rl.take("ip:a", "ticker", T0));
  assert.deepEqual(
    got.slice(0, 3).map((d) => d.kind === "ok" && d.remaining),
    [9, 8, 7],
  );
  assert.equal(got[9]!.kind, "ok");
  assert.equal(got[10]!.kind, "limited");
  assert.equal(rl.take("ip:b", "ticker", T0).kind, "ok", "another client has its own budget");
  assert.equal(rl.take("ip:a", "market", T0).kind, "ok", "another group has its own budget");
  assert.equal(
    rl.take("ip:a", "ticker", T0 + 1000).kind,
    "ok",
    "the next second has a fresh budget",
  );
});

test("ratelimit - the order group defaults to 12/s and can be set to 8/s", () => {
  const count = (rl: RateLimiter) => {
    let n = 0;
    while (rl.take("p", "order", T0).kind === "ok") n++;
    return n;
  };
  assert.equal(count(new RateLimiter({})), 12);
  assert.equal(count(new RateLimiter({ order: 8 })), 8);
});

test("ratelimit - order-cancel-all allows one request per two seconds", () => {
  const rl = new RateLimiter({});
  assert.equal(rl.take("p", "order-cancel-all", T0).kind, "ok");
  assert.equal(rl.take("p", "order-cancel-all", T0 + 1000).kind, "limited");
  assert.equal(rl.take("p", "order-cancel-all", T0 + 2000).kind, "ok");
});

test("ratelimit - a client that keeps going after 429s is banned (418), each ban longer", () => {
  const rl = new RateLimiter({ teapotAfter: 3, banMs: 1000 });
  for (let i = 0; i < 10; i++) rl.take("c", "ticker", T0);
  const kinds = Array.from({ length: 4 }, () => rl.take("c", "ticker", T0).kind);
  assert.deepEqual(kinds, ["limited", "limited", "limited", "banned"]);
  const first = rl.take("c", "market", T0 + 500);
  assert.equal(first.kind, "banned", "a ban covers every group");
  assert.equal(first.kind === "banned" && first.untilMs, T0 + 1000);
  // After the ban: spend the budget again and offend again: the second ban is twice as long.
  const t1 = T0 + 1000;
  for (let i = 0; i < 14; i++) rl.take("c", "ticker", t1);
  const second = rl.take("c", "ticker", t1);
  assert.equal(second.kind, "banned");
  assert.equal(second.kind === "banned" && second.untilMs - t1, 2000);
});

test("ratelimit - the header names group, the legacy min figure and the seconds budget", () => {
  const rl = new RateLimiter({});
  assert.equal(rl.header("default", 29), "group=default; min=1800; sec=29");
  assert.equal(rl.header("order-cancel-all", 0), "group=order-cancel-all; min=600; sec=0");
});

test("ratelimit - rateLimits false never refuses", () => {
  const rl = new RateLimiter(false);
  for (let i = 0; i < 1000; i++) assert.equal(rl.take("c", "order", T0).kind, "ok");
});
