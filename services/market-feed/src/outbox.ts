/**
 * Between the WebSocket and JetStream: a bounded buffer of messages waiting to
 * be published and a bounded number of publishes awaiting their ack.
 *
 * A publish that is not acknowledged goes back to the front of the buffer (the
 * failed ones in the order they were sent) and is retried with the same `Nats-Msg-Id` (JetStream drops the copy if the
 * first one was stored after all), after a short pause so an unreachable NATS
 * is not hammered. `maxBuffered` bounds everything the outbox holds — waiting
 * and awaiting an ack — so a failed publish put back at the front never takes
 * it over the bound. When it is full, `offer` refuses: the caller drops the
 * message and records a gap instead of growing without bound.
 */
import type { MsgHdrs } from "@nats-io/transport-node";
import type { Span } from "@opentelemetry/api";
import type { JsPublisher } from "@upline/shared";

export interface OutboxItem {
  readonly subject: string;
  readonly msgId: string;
  readonly data: string;
  readonly market: string;
  readonly kind: "ticker" | "trade" | "orderbook";
  /** Trades: the sequential_id. */
  readonly id?: string;
  readonly exchangeTs: number;
  /** The publish span of a sampled attempt (set by beforePublish, cleared when ended). */
  span: Span | undefined;
  attempts: number;
}

export interface OutboxOptions {
  readonly publisher: JsPublisher;
  readonly maxInFlight: number;
  /** Most messages held at once, waiting or awaiting their ack. */
  readonly maxBuffered: number;
  /**
   * Called right before each publish attempt; returns the headers (and may
   * start a span), or just the `traceparent` value (the cheap, common case).
   */
  readonly beforePublish: (item: OutboxItem) => MsgHdrs | string;
  readonly onAcked: (item: OutboxItem, duplicate: boolean) => void;
  readonly onFailed: (item: OutboxItem, err: unknown) => void;
  /** Publishing works again after failures. */
  readonly onRecovered: () => void;
  readonly now: () => number;
  readonly setTimeout: (fn: () => void, ms: number) => unknown;
  readonly clearTimeout: (handle: unknown) => void;
}

export interface Outbox {
  /** Queues a message; false when `maxBuffered` are held (the caller records a gap). */
  readonly offer: (item: OutboxItem) => boolean;
  readonly buffered: () => number;
  readonly inFlight: () => number;
  /** True between a failed publish and the next acknowledged one. */
  readonly failing: () => boolean;
  /** Waits until everything is acknowledged or `deadlineMs` passes. */
  readonly flush: (deadlineMs: number) => Promise<boolean>;
  readonly close: () => void;
}

/**
 * When the feed stops reading its WebSockets (`pauseAt` messages waiting in
 * the outbox, publishing healthy) and when it reads again (`resumeAt`).
 *
 * The waiting messages only have to refill the in-flight window while the
 * sockets are read again, so the mark follows `maxInFlight` (at least 1 024),
 * and is never above half of `bufferMax`, which keeps room for the frames that
 * arrive after a pause (the rest of the socket read) before anything is
 * dropped. More waiting messages than that buy no throughput: they are live
 * objects that every young-generation GC copies (the earlier 4 096 mark cost
 * ≈ 4 % more CPU per message and ≈ 4 % throughput; issue-5 notes, 2026-11-22).
 */
export function backpressureMarks(
  bufferMax: number,
  maxInFlight: number,
): { readonly pauseAt: number; readonly resumeAt: number } {
  const pauseAt = Math.max(1, Math.min(Math.floor(bufferMax / 2), Math.max(1_024, maxInFlight)));
  return { pauseAt, resumeAt: Math.floor(pauseAt / 4) };
}

/** A FIFO queue on a growable ring buffer (push/shift in O(1)). */
class Deque<T> {
  #buf: (T | undefined)[] = new Array(1024);
  #head = 0;
  #size = 0;
  get size(): number {
    return this.#size;
  }
  push(v: T): void {
    if (this.#size === this.#buf.length) this.#grow();
    this.#buf[(this.#head + this.#size) % this.#buf.length] = v;
    this.#size++;
  }
  shift(): T | undefined {
    if (this.#size === 0) return undefined;
    const v = this.#buf[this.#head];
    this.#buf[this.#head] = undefined;
    this.#head = (this.#head + 1) % this.#buf.length;
    this.#size--;
    return v;
  }
  #grow(): void {
    const next: (T | undefined)[] = new Array(this.#buf.length * 2);
    for (let i = 0; i < this.#size; i++) next[i] = this.#buf[(this.#head + i) % this.#buf.length];
    this.#buf = next;
    this.#head = 0;
  }
}

export function createOutbox(o: OutboxOptions): Outbox {
  const queue = new Deque<OutboxItem>();
  // Failed publishes, in the order they failed (which is the order they were
  // sent): they go out again before anything in `queue`.
  const retries = new Deque<OutboxItem>();
  const held = () => queue.size + retries.size + inFlight;
  let inFlight = 0;
  let failing = false;
  let pausedUntil = 0;
  let resumeTimer: unknown;
  let closed = false;
  let consecutiveFailures = 0;
  const idleWaiters: (() => void)[] = [];

  const settleIdle = () => {
    if (held() === 0) for (const w of idleWaiters.splice(0)) w();
  };

  const acked = (item: OutboxItem, duplicate: boolean) => {
    inFlight--;
    consecutiveFailures = 0;
    if (failing) {
      failing = false;
      o.onRecovered();
    }
    o.onAcked(item, duplicate);
    pump();
    settleIdle();
  };

  const failed = (item: OutboxItem, err: unknown) => {
    inFlight--;
    o.onFailed(item, err);
    if (closed) {
      settleIdle();
      return;
    }
    failing = true;
    consecutiveFailures++;
    // Ahead of the waiting ones: same message, same Nats-Msg-Id, tried again after a pause.
    retries.push(item);
    const pause = Math.min(2_000, 50 * 2 ** Math.min(consecutiveFailures, 6));
    pausedUntil = Math.max(pausedUntil, o.now() + pause);
    if (resumeTimer === undefined) {
      resumeTimer = o.setTimeout(() => {
        resumeTimer = undefined;
        pausedUntil = 0;
        pump();
      }, pause);
    }
  };

  const pump = () => {
    if (closed) return;
    if (pausedUntil > o.now()) return;
    // `failing` is re-checked: a send that fails at once (connection closed)
    // calls back synchronously and puts its item back at the front.
    while (
      inFlight < o.maxInFlight &&
      queue.size + retries.size > 0 &&
      !(failing && pausedUntil > o.now())
    ) {
      const item = (retries.size > 0 ? retries.shift() : queue.shift()) as OutboxItem;
      inFlight++;
      item.attempts++;
      let headers: MsgHdrs | string;
      try {
        headers = o.beforePublish(item);
      } catch (err) {
        inFlight--;
        o.onFailed(item, err);
        continue;
      }
      // A callback, not a promise: no promise, reaction job or async frame per message.
      o.publisher.send(
        item.subject,
        item.data,
        typeof headers === "string"
          ? { msgId: item.msgId, traceparent: headers }
          : { msgId: item.msgId, headers },
        (err, ack) =>
          err === undefined ? acked(item, ack?.duplicate === true) : failed(item, err),
      );
    }
  };

  return {
    offer: (item) => {
      // In flight counts: a failed publish comes back to be sent again.
      if (closed || held() >= o.maxBuffered) return false;
      queue.push(item);
      if (inFlight < o.maxInFlight) pump();
      return true;
    },
    buffered: () => queue.size + retries.size,
    inFlight: () => inFlight,
    failing: () => failing,
    flush: async (deadlineMs) => {
      if (held() === 0) return true;
      let timer: unknown;
      const done = await Promise.race([
        new Promise<boolean>((r) => idleWaiters.push(() => r(true))),
        new Promise<boolean>((r) => {
          timer = o.setTimeout(() => r(false), deadlineMs);
        }),
      ]);
      o.clearTimeout(timer);
      return done;
    },
    close: () => {
      closed = true;
      if (resumeTimer !== undefined) o.clearTimeout(resumeTimer);
    },
  };
}
