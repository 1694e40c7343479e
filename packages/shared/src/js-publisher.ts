/**
 * Fast acknowledged JetStream publishing: messages go out on core NATS with a
 * reply subject, and JetStream's acks are collected on one wildcard inbox
 * subscription. Same guarantee as `js.publish` — the promise resolves only
 * once the stream has stored the message — at several times the rate, because
 * there is no request/response object, stack trace or timer per message.
 * Outstanding messages are bounded: `publish` waits for a slot.
 */
import type { PubAck } from "@nats-io/jetstream";
import {
  createInbox,
  type Msg,
  type MsgHdrs,
  type NatsConnection,
  headers as natsHeaders,
} from "@nats-io/transport-node";
import { busError } from "./bus.ts";
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
}

export interface JsPublisher {
  /** Resolves with the stream's ack; rejects with PUBLISH_NOT_ACKED (or BUS_* when the connection is gone). */
  readonly publish: (
    subject: string,
    data: Uint8Array | string,
    options?: JsPublishOptions,
  ) => Promise<PubAck>;
  readonly outstanding: () => number;
  /** Waits for outstanding acks (up to the timeout), then stops listening. Safe to call twice. */
  readonly close: () => Promise<void>;
}

interface Pending {
  readonly resolve: (ack: PubAck) => void;
  readonly reject: (err: UplineError) => void;
  readonly subject: string;
  readonly deadline: number;
}

const decoder = new TextDecoder();

export function createJsPublisher(
  nc: NatsConnection,
  options: JsPublisherOptions = {},
): JsPublisher {
  const maxOutstanding = options.maxOutstanding ?? 1024;
  const timeoutMs = options.timeoutMs ?? 5_000;
  const prefix = createInbox();
  const pending = new Map<number, Pending>();
  const waiters: (() => void)[] = [];
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
      p.reject(new UplineError("PUBLISH_NOT_ACKED", `no stream stores ${p.subject}`));
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
      p.reject(new UplineError("PUBLISH_NOT_ACKED", `unreadable ack for ${p.subject}`));
      return;
    }
    if (body.error || typeof body.stream !== "string" || typeof body.seq !== "number") {
      const why = body.error?.description ?? "no stream or sequence in the ack";
      p.reject(
        new UplineError("PUBLISH_NOT_ACKED", `publish to ${p.subject} refused: ${why}`, {
          details: { err_code: body.error?.err_code },
        }),
      );
      return;
    }
    p.resolve({
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
        p.reject(
          new UplineError("PUBLISH_NOT_ACKED", `no ack for ${p.subject} within ${timeoutMs} ms`),
        );
      }
    },
    Math.max(10, Math.min(250, timeoutMs / 4)),
  );
  sweeper.unref();

  const publish = async (
    subject: string,
    data: Uint8Array | string,
    opts: JsPublishOptions = {},
  ): Promise<PubAck> => {
    if (closing) throw new UplineError("BUS_UNAVAILABLE", "the publisher is closed");
    while (pending.size >= maxOutstanding)
      await new Promise<void>((resolve) => waiters.push(resolve));
    const id = next++;
    const hdrs = opts.headers ?? (opts.msgId === undefined ? undefined : natsHeaders());
    if (opts.msgId !== undefined) hdrs?.set("Nats-Msg-Id", opts.msgId);
    const acked = new Promise<PubAck>((resolve, reject) => {
      pending.set(id, { resolve, reject, subject, deadline: Date.now() + timeoutMs });
    });
    try {
      nc.publish(subject, data, {
        reply: `${prefix}.${id}`,
        ...(hdrs === undefined ? {} : { headers: hdrs }),
      });
    } catch (err) {
      settle(id);
      throw busError(err, `publish ${subject}`);
    }
    return acked;
  };

  return {
    publish,
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
          p.reject(
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
