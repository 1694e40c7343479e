import assert from "node:assert/strict";
import { test } from "node:test";
import type { PubAck } from "@nats-io/jetstream";
import { type JsPublishCallback, type JsPublisher, UplineError } from "@upline/shared";
import {
  backpressureMarks,
  createOutbox,
  createSeenIds,
  isReady,
  marketHealth,
  type OutboxItem,
} from "../src/index.ts";

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

test("dedup - same answers as an insertion-ordered set when ids mostly rise, with late, repeated and forgotten ids", () => {
  // The common shape of Upbit's sequential_ids: rising, with some late (below
  // the greatest), repeated and forgotten ones, and ids of growing length.
  let seed = 11;
  const rnd = () => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed / 0x7fffffff;
  };
  for (const capacity of [1, 2, 5, 100, 3_000]) {
    const seen = createSeenIds(capacity);
    const ref = new Set<string>();
    let top = 990;
    const recent: string[] = [];
    for (let i = 0; i < 60_000; i++) {
      const r = rnd();
      let id: string;
      if (r < 0.75) {
        top += 1 + Math.floor(rnd() * 3);
        id = String(top);
      } else if (recent.length > 0) {
        // An id near the top: repeated, late, or never seen (a gap filled later).
        id =
          rnd() < 0.5
            ? (recent[Math.floor(rnd() * recent.length)] as string)
            : String(top - Math.floor(rnd() * capacity * 2));
      } else id = String(top);
      const op = rnd();
      if (op < 0.1) {
        seen.forget(id);
        ref.delete(id);
      } else if (op < 0.2) assert.equal(seen.has(id), ref.has(id), `has ${id} at op ${i}`);
      else {
        const fresh = !ref.has(id);
        if (fresh) {
          ref.add(id);
          if (ref.size > capacity) ref.delete(ref.values().next().value as string);
        }
        assert.equal(seen.add(id), fresh, `capacity ${capacity}, op ${i}, id ${id}`);
        recent.push(id);
        if (recent.length > 64) recent.shift();
      }
      assert.equal(seen.size(), ref.size);
    }
    for (const id of ref) assert.equal(seen.has(id), true);
  }
});

test("dedup - forgotten ids are compacted away and never resurrected", () => {
  // Live ids stay few while thousands are forgotten (both rising and late ones):
  // the tombstones must be dropped without changing any answer.
  const seen = createSeenIds(10);
  const ref = new Set<string>();
  const add = (id: string) => {
    ref.add(id);
    if (ref.size > 10) ref.delete(ref.values().next().value as string);
  };
  for (let i = 1; i <= 20_000; i++) {
    const id = String(100_000 + i * 2);
    assert.equal(seen.add(id), true);
    add(id);
    if (i % 7 !== 0) {
      seen.forget(id);
      ref.delete(id);
    }
    const late = String(100_001 + i * 2 - 40); // odd: below the top, never seen before
    assert.equal(seen.add(late), true);
    add(late);
    if (i % 5 !== 0) {
      seen.forget(late);
      ref.delete(late);
    }
    assert.equal(seen.size(), ref.size, `op ${i}`);
  }
  for (const id of ref) assert.equal(seen.has(id), true);
  assert.equal(seen.has("100002"), false);
  assert.equal(seen.add("100002"), true, "a forgotten, evicted id is new again");
});

test("outbox - publishes that fail come back to the front and never take it over maxBuffered", () => {
  // The publisher answers only when told: every send is held until it fails.
  const sends: { msgId: string; done: JsPublishCallback }[] = [];
  const publisher: JsPublisher = {
    publish: () => Promise.reject(new Error("not used")),
    send: (_subject, _data, options, done) => {
      sends.push({ msgId: options?.msgId ?? "", done });
    },
    outstanding: () => sends.length,
    close: async () => {},
  };
  const timers: (() => void)[] = [];
  const outbox = createOutbox({
    publisher,
    maxInFlight: 4,
    maxBuffered: 10,
    beforePublish: () => "00-00000000000000000000000000000001-0000000000000001-00",
    onAcked: () => {},
    onFailed: () => {},
    onRecovered: () => {},
    now: () => 0,
    setTimeout: (fn) => timers.push(fn),
    clearTimeout: () => {},
  });
  const item = (i: number): OutboxItem => ({
    subject: "md.v1.upbit.trade.KRW-BTC",
    msgId: `m${i}`,
    data: "{}",
    market: "KRW-BTC",
    kind: "trade",
    exchangeTs: 0,
    span: undefined,
    attempts: 0,
  });
  let accepted = 0;
  for (let i = 0; i < 20; i++) if (outbox.offer(item(i))) accepted++;
  assert.equal(accepted, 10, "4 in flight + 6 waiting, then refused");
  assert.deepEqual([outbox.inFlight(), outbox.buffered()], [4, 6]);

  // NATS goes away: all four in-flight publishes fail and come back to the front.
  const failing = sends.splice(0);
  for (const s of failing) s.done(new UplineError("PUBLISH_NOT_ACKED", "gone"), undefined);
  assert.deepEqual([outbox.inFlight(), outbox.buffered()], [0, 10], "held stays at the bound");
  assert.equal(outbox.offer(item(99)), false, "still full");
  assert.equal(outbox.failing(), true);

  // After the pause, the same messages go out first, in the order they were sent.
  for (const fire of timers.splice(0)) fire();
  assert.deepEqual(
    sends.map((s) => s.msgId),
    failing.map((s) => s.msgId),
  );
  const ack = { stream: "MD", seq: 1, duplicate: false } as PubAck;
  for (const s of sends.splice(0)) s.done(undefined, ack);
  assert.equal(outbox.failing(), false);
  assert.deepEqual([outbox.inFlight(), outbox.buffered()], [4, 2], "the next four went out");
});

test("outbox - the sockets pause at the in-flight window (at least 1 024 waiting), never above half the buffer", () => {
  // Defaults (FEED_BUFFER_MAX 100 000, FEED_MAX_IN_FLIGHT 1 024): pause at 1 024
  // waiting, read again at 256 — not at 4 096 / 1 024 as before 2026-11-22.
  assert.deepEqual(backpressureMarks(100_000, 1_024), { pauseAt: 1_024, resumeAt: 256 });
  // A larger window needs as many waiting messages to stay full.
  assert.deepEqual(backpressureMarks(1_000_000, 4_096), { pauseAt: 4_096, resumeAt: 1_024 });
  // A tiny window still keeps 1 024 ready.
  assert.deepEqual(backpressureMarks(6_000, 1), { pauseAt: 1_024, resumeAt: 256 });
  // Half of a small buffer stays free for frames read after the pause.
  assert.deepEqual(backpressureMarks(200, 64), { pauseAt: 100, resumeAt: 25 });
  assert.deepEqual(backpressureMarks(100, 65_536), { pauseAt: 50, resumeAt: 12 });
  for (const [buffer, inFlight] of [
    [100, 1],
    [101, 7],
    [5_000, 3_000],
    [10_000_000, 65_536],
  ] as const) {
    const { pauseAt, resumeAt } = backpressureMarks(buffer, inFlight);
    assert.ok(
      pauseAt >= 1 && pauseAt <= buffer / 2,
      `${buffer}/${inFlight}: pause within half the buffer`,
    );
    assert.ok(resumeAt < pauseAt, `${buffer}/${inFlight}: resume below pause`);
  }
});
