import assert from "node:assert/strict";
import { test } from "node:test";
import { createSeenIds, isReady, marketHealth } from "../src/index.ts";

test("dedup - a repeated sequential_id is refused; the oldest ids are forgotten beyond capacity", () => {
  const seen = createSeenIds(3);
  assert.equal(seen.add("5"), true);
  assert.equal(seen.add("3"), true);
  assert.equal(seen.add("5"), false, "duplicate");
  seen.add("9");
  seen.add("1");
  assert.equal(seen.has("5"), false, "oldest forgotten");
  assert.equal(seen.has("3"), true);
  seen.forget("3");
  assert.equal(seen.add("3"), true, "a dropped trade may come back through backfill");
});

test("health - disconnected, stale and fresh follow the connection and the last event", () => {
  const base = { market: "KRW-BTC", gaps: 1, reconnects: 2 };
  const now = 1_000_000;
  assert.equal(
    marketHealth({ ...base, connected: false, lastEventAt: now }, now, 1000).state,
    "disconnected",
  );
  assert.equal(marketHealth({ ...base, connected: true }, now, 1000).state, "stale");
  const fresh = marketHealth(
    { ...base, connected: true, lastEventAt: now - 10, lastExchangeTs: now - 30 },
    now,
    1000,
  );
  assert.deepEqual(fresh, {
    market: "KRW-BTC",
    state: "fresh",
    last_exchange_ts: now - 30,
    staleness_ms: 10,
    gaps: 1,
    reconnects: 2,
    ts: new Date(now).toISOString(),
  });
  assert.equal(
    marketHealth({ ...base, connected: true, lastEventAt: now - 1000 }, now, 1000).state,
    "stale",
  );
  assert.equal(isReady([fresh]), true);
  assert.equal(isReady([fresh, marketHealth({ ...base, connected: true }, now, 1000)]), false);
  assert.equal(isReady([]), false);
});

test("dedup - same answers as an insertion-ordered set under random adds, forgets and evictions", () => {
  // Reference: the obvious Set (first entry = oldest); the real one must agree op by op.
  let seed = 7;
  const rnd = () => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed / 0x7fffffff;
  };
  for (const capacity of [1, 3, 100, 2_000]) {
    const seen = createSeenIds(capacity);
    const ref = new Set<string>();
    for (let i = 0; i < 50_000; i++) {
      const id = String(Math.floor(rnd() * capacity * 3));
      const r = rnd();
      if (r < 0.2) {
        seen.forget(id);
        ref.delete(id);
      } else if (r < 0.3) assert.equal(seen.has(id), ref.has(id));
      else {
        const fresh = !ref.has(id);
        if (fresh) {
          ref.add(id);
          if (ref.size > capacity) ref.delete(ref.values().next().value as string);
        }
        assert.equal(seen.add(id), fresh, `capacity ${capacity}, op ${i}, id ${id}`);
      }
      assert.equal(seen.size(), ref.size);
    }
  }
});
