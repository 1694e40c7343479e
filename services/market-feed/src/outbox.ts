/**
 * Between the WebSocket and JetStream: a bounded buffer of messages waiting to
 * be published and a bounded number of publishes awaiting their ack.
 *
 * A publish that is not acknowledged goes back to the front of the buffer and
 * is retried with the same `Nats-Msg-Id` (JetStream drops the copy if the
 * first one was stored after all), after a short pause so an unreachable NATS
 * is not hammered. When the buffer is full, `offer` refuses: the caller drops
 * the message and records a gap instead of growing without bound.
 */
import type { MsgHdrs } from "@nats-io/transport-node";
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
  /** Built at publish time (trace context of the publish span). */
  headers?: MsgHdrs;
  attempts: number;
}

export interface OutboxOptions {
  readonly publisher: JsPublisher;
  readonly maxInFlight: number;
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
  /** Queues a message; false when the buffer is full (the caller records a gap). */
  readonly offer: (item: OutboxItem) => boolean;
  readonly buffered: () => number;
  readonly inFlight: () => number;
  /** True between a failed publish and the next acknowledged one. */
  readonly failing: () => boolean;
  /** Waits until everything is acknowledged or `deadlineMs` passes. */
  readonly flush: (deadlineMs: number) => Promise<boolean>;
  readonly close: () => void;
}

/** A double-ended queue on a growable ring buffer (shift/unshift in O(1)). */
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
  unshift(v: T): void {
    if (this.#size === this.#buf.length) this.#grow();
    this.#head = (this.#head - 1 + this.#buf.length) % this.#buf.length;
    this.#buf[this.#head] = v;
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
  let inFlight = 0;
  let failing = false;
  let pausedUntil = 0;
  let resumeTimer: unknown;
  let closed = false;
  let consecutiveFailures = 0;
  const idleWaiters: (() => void)[] = [];

  const settleIdle = () => {
    if (queue.size === 0 && inFlight === 0) for (const w of idleWaiters.splice(0)) w();
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
    // Back to the front: same message, same Nats-Msg-Id, tried again after a pause.
    queue.unshift(item);
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
    while (inFlight < o.maxInFlight && queue.size > 0 && !(failing && pausedUntil > o.now())) {
      const item = queue.shift() as OutboxItem;
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
      if (closed || queue.size >= o.maxBuffered) return false;
      queue.push(item);
      if (inFlight < o.maxInFlight) pump();
      return true;
    },
    buffered: () => queue.size,
    inFlight: () => inFlight,
    failing: () => failing,
    flush: async (deadlineMs) => {
      if (queue.size === 0 && inFlight === 0) return true;
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
