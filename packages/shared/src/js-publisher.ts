/**
 * Fast acknowledged JetStream publishing: messages go out on core NATS with a
 * reply subject, and JetStream's acks are collected on one wildcard inbox
 * subscription. Same guarantee as `js.publish` — the promise resolves only
 * once the stream has stored the message — at several times the rate, because
 * there is no request/response object, stack trace or timer per message.
 * Outstanding messages are bounded: `publish` waits for a slot.
 */
import type { PubAck } from "@nats-io/jetstream";
import { type Msg, type MsgHdrs, MsgHdrsImpl, type NatsConnection } from "@nats-io/transport-node";
import { busError, connectionInbox } from "./bus.ts";
import { UplineError } from "./errors.ts";

export interface JsPublisherOptions {
  /** Most messages awaiting their ack at once (default 1024). */
  readonly maxOutstanding?: number;
  /** A message not acknowledged within this time is rejected (default 5 s). */
  readonly timeoutMs?: number;
}

export interface JsPublishOptions {
  /** `Nats-Msg-Id`: JetStream drops a repeat inside the duplicate window. */
  readonly msgId?: string;
  /** Headers to send (trace context, …); `Nats-Msg-Id` is added to them. */
  readonly headers?: MsgHdrs;
  /**
   * A W3C `traceparent` value, sent as a header beside `Nats-Msg-Id` without
   * a `MsgHdrs` object (the hot path: no per-message header map to build and
   * validate). Ignored when `headers` is given — put it there instead.
   */
  readonly traceparent?: string;
}

/** Called once per message: with the ack, or with why it was not acknowledged. */
export type JsPublishCallback = (err: UplineError | undefined, ack: PubAck | undefined) => void;

export interface JsPublisher {
  /** Resolves with the stream's ack; rejects with PUBLISH_NOT_ACKED (or BUS_* when the connection is gone). */
  readonly publish: (
    subject: string,
    data: Uint8Array | string,
    options?: JsPublishOptions,
  ) => Promise<PubAck>;
  /**
   * The same publish without a promise per message: `done` is called once with
   * the ack or the error (also for a send that fails at once). Waits for a
   * slot like `publish` when `maxOutstanding` messages are awaiting their ack.
   */
  readonly send: (
    subject: string,
    data: Uint8Array | string,
    options: JsPublishOptions | undefined,
    done: JsPublishCallback,
  ) => void;
  readonly outstanding: () => number;
  /** Waits for outstanding acks (up to the timeout), then stops listening. Safe to call twice. */
  readonly close: () => Promise<void>;
}

interface Pending {
  readonly done: JsPublishCallback;
  readonly subject: string;
  readonly deadline: number;
}

const decoder = new TextDecoder();
const CR_OR_LF = /[\r\n]/;

/**
 * `Nats-Msg-Id` (+ `traceparent`) as one pre-formatted header block: nats.js
 * only calls `encode()` when publishing, so the block is written once instead
 * of going through `set()` (key canonicalisation, look-ups, validation) per
 * message. The map is filled too, so the object reads like any other MsgHdrs.
 */
class HeaderBlock extends MsgHdrsImpl {
  readonly #block: string;
  constructor(msgId: string | undefined, traceparent: string | undefined) {
    super();
    let block = "NATS/1.0";
    if (traceparent !== undefined) {
      if (CR_OR_LF.test(traceparent)) throw new TypeError("traceparent cannot contain CR or LF");
      this.headers.set("traceparent", [traceparent]);
      block += `\r\ntraceparent: ${traceparent}`;
    }
    if (msgId !== undefined) {
      if (CR_OR_LF.test(msgId)) throw new TypeError("Nats-Msg-Id cannot contain CR or LF");
      this.headers.set("Nats-Msg-Id", [msgId]);
      block += `\r\nNats-Msg-Id: ${msgId}`;
    }
    this.#block = `${block}\r\n\r\n`;
  }
  override toString(): string {
    return this.#block;
  }
}

export function createJsPublisher(
  nc: NatsConnection,
  options: JsPublisherOptions = {},
): JsPublisher {
  const maxOutstanding = options.maxOutstanding ?? 1024;
  const timeoutMs = options.timeoutMs ?? 5_000;
  // Under the connection's inbox prefix: with per-user permissions (deploy/nats)
  // a bare _INBOX.<nuid> is a subject this user may not subscribe to.
  const prefix = connectionInbox(nc);
  const pending = new Map<number, Pending>();
  const waiters: (() => void)[] = [];
  const fail = (p: Pending, err: UplineError) => p.done(err, undefined);
  let next = 0;
  let closing: Promise<void> | undefined;

  const settle = (id: number): Pending | undefined => {
    const p = pending.get(id);
    if (p === undefined) return undefined;
    pending.delete(id);
    waiters.shift()?.();
    return p;
  };

  const onAck = (msg: Msg): void => {
    const id = Number(msg.subject.slice(prefix.length + 1));
    const p = settle(id);
    if (p === undefined) return; // timed out already
    const status = msg.headers?.code ?? 0;
    if (status === 503) {
      fail(p, new UplineError("PUBLISH_NOT_ACKED", `no stream stores ${p.subject}`));
      return;
    }
    let body: {
      stream?: string;
      seq?: number;
      duplicate?: boolean;
      domain?: string;
      error?: { description?: string; err_code?: number };
    };
    try {
      body = JSON.parse(decoder.decode(msg.data));
    } catch {
      fail(p, new UplineError("PUBLISH_NOT_ACKED", `unreadable ack for ${p.subject}`));
      return;
    }
    if (body.error || typeof body.stream !== "string" || typeof body.seq !== "number") {
      const why = body.error?.description ?? "no stream or sequence in the ack";
      fail(
        p,
        new UplineError("PUBLISH_NOT_ACKED", `publish to ${p.subject} refused: ${why}`, {
          details: { err_code: body.error?.err_code },
        }),
      );
      return;
    }
    p.done(undefined, {
      stream: body.stream,
      seq: body.seq,
      duplicate: body.duplicate === true,
      domain: body.domain ?? "",
    } as PubAck);
  };

  const sub = nc.subscribe(`${prefix}.*`, { callback: (_err, msg) => onAck(msg) });

  // One sweeper instead of a timer per message: the map keeps insertion order,
  // so expired entries are at its front.
  const sweeper = setInterval(
    () => {
      const now = Date.now();
      for (const [id, p] of pending) {
        if (p.deadline > now) break;
        settle(id);
        fail(
          p,
          new UplineError("PUBLISH_NOT_ACKED", `no ack for ${p.subject} within ${timeoutMs} ms`),
        );
      }
    },
    Math.max(10, Math.min(250, timeoutMs / 4)),
  );
  sweeper.unref();

  /** Sends now; the caller checked that a slot is free. */
  const sendNow = (
    subject: string,
    data: Uint8Array | string,
    opts: JsPublishOptions | undefined,
    done: JsPublishCallback,
  ): void => {
    if (closing) {
      done(new UplineError("BUS_UNAVAILABLE", "the publisher is closed"), undefined);
      return;
    }
    const id = next++;
    let hdrs: MsgHdrs | undefined;
    try {
      hdrs = opts?.headers;
      if (hdrs !== undefined) {
        if (opts?.msgId !== undefined) hdrs.set("Nats-Msg-Id", opts.msgId);
      } else if (opts?.msgId !== undefined || opts?.traceparent !== undefined)
        hdrs = new HeaderBlock(opts.msgId, opts.traceparent);
      pending.set(id, { done, subject, deadline: Date.now() + timeoutMs });
      nc.publish(
        subject,
        data,
        hdrs === undefined
          ? { reply: `${prefix}.${id}` }
          : { reply: `${prefix}.${id}`, headers: hdrs },
      );
    } catch (err) {
      settle(id);
      done(busError(err, `publish ${subject}`), undefined);
    }
  };

  const send = (
    subject: string,
    data: Uint8Array | string,
    opts: JsPublishOptions | undefined,
    done: JsPublishCallback,
  ): void => {
    if (pending.size < maxOutstanding && waiters.length === 0) {
      sendNow(subject, data, opts, done);
      return;
    }
    // Wait for a slot; each settled message wakes one waiter (in order).
    const retry = () => {
      if (pending.size < maxOutstanding || closing) sendNow(subject, data, opts, done);
      else waiters.unshift(retry);
    };
    waiters.push(retry);
  };

  const publish = (
    subject: string,
    data: Uint8Array | string,
    opts?: JsPublishOptions,
  ): Promise<PubAck> =>
    new Promise<PubAck>((resolve, reject) =>
      send(subject, data, opts, (err, ack) => (err ? reject(err) : resolve(ack as PubAck))),
    );

  return {
    publish,
    send,
    outstanding: () => pending.size,
    close: () => {
      closing ??= (async () => {
        const deadline = Date.now() + timeoutMs;
        while (pending.size > 0 && Date.now() < deadline && !nc.isClosed()) {
          await new Promise((r) => setTimeout(r, 5));
        }
        clearInterval(sweeper);
        for (const [id, p] of pending) {
          settle(id);
          fail(
            p,
            new UplineError(
              "PUBLISH_NOT_ACKED",
              `publisher closed before ${p.subject} was acknowledged`,
            ),
          );
        }
        if (!sub.isClosed()) sub.unsubscribe();
      })();
      return closing;
    },
  };
}
