/**
 * Fast acknowledged JetStream publishing: messages go out on core NATS with a
 * reply subject, and JetStream's acks are collected on one wildcard inbox
 * subscription. Same guarantee as `js.publish` — `done` / the promise settles
 * only once the stream has stored the message (or with PUBLISH_NOT_ACKED) — at
 * several times the rate, because there is no request/response object, stack
 * trace or timer per message. Outstanding messages are bounded: a send waits
 * for a slot. Per message, the hot path is cut down further (market data pays
 * it 50,000 times a second):
 *
 * - The header block (`traceparent` + `Nats-Msg-Id`) and the payload are
 *   encoded together with one `encodeInto` into a shared slab, and handed to
 *   nats.js as two views of it. nats.js otherwise runs `TextEncoder.encode` for
 *   each (a fresh ArrayBuffer per call) and builds a header map per message.
 *   A slab region is written once and never reused (a full slab is replaced
 *   by a new one), so views that nats.js still holds are never overwritten.
 * - Acks of the usual shape `{"stream":"…","seq":N}` are read from the bytes
 *   without `JSON.parse`; any other ack (domain, error, anything unexpected)
 *   goes through {@link readPubAck}.
 * - Reply subjects are short: a 12-character inbox token and the id in base
 *   36 (the reply goes out with each publish and comes back with its ack).
 *
 * CR/LF in a header value is refused before anything is sent.
 */
import { randomBytes } from "node:crypto";
import type { PubAck } from "@nats-io/jetstream";
import { createInbox, type Msg, type MsgHdrs, type NatsConnection } from "@nats-io/transport-node";
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
const encoder = new TextEncoder();
const CR_OR_LF = /[\r\n]/;
// Anything outside printable ASCII: then the block's length is not its byte count.
const NOT_PRINTABLE = /[^\x20-\x7e]/;
const SLAB_BYTES = 256 * 1024;

/**
 * A pre-encoded header block: nats.js only calls `encode()` on the headers it
 * publishes (protocol.publish), so this stands in for a MsgHdrs there.
 */
class EncodedHeaders {
  readonly #bytes: Uint8Array;
  constructor(bytes: Uint8Array) {
    this.#bytes = bytes;
  }
  encode(): Uint8Array {
    return this.#bytes;
  }
  toString(): string {
    return decoder.decode(this.#bytes);
  }
}

const ACK_HEAD = new TextEncoder().encode('{"stream":"');
const ACK_SEQ = new TextEncoder().encode('"seq":');
const ACK_DUP = new TextEncoder().encode('"duplicate":');
const ACK_TRUE = new TextEncoder().encode("true}");

/** Index after `key` at `i` (plus one optional space after it, as nats-server writes), or -1. */
function expect(b: Uint8Array, i: number, key: Uint8Array): number {
  for (let k = 0; k < key.length; k++, i++) if (b[i] !== key[k]) return -1;
  return b[i] === 0x20 ? i + 1 : i;
}

/**
 * An ack of nats-server's shape — `{"stream":"<name>", "seq":<n>}`, optionally
 * with `,"duplicate": true` before the brace — read from the bytes; undefined
 * for anything else (the caller then uses JSON.parse). The stream name string
 * is reused while the bytes match it.
 */
let lastStream = "";
let lastStreamBytes = new Uint8Array(0);
let ackSeq = 0;
let ackDuplicate = false;
function fastAck(b: Uint8Array): string | undefined {
  const n = b.length;
  if (b[n - 1] !== 0x7d) return undefined;
  let i = expect(b, 0, ACK_HEAD);
  if (i < 0) return undefined;
  // expect() skipped a space that would belong to the name: names have none, so refuse.
  if (b[i - 1] === 0x20) return undefined;
  const s = i;
  while (i < n && b[i] !== 0x22) {
    if (b[i] === 0x5c || (b[i] as number) < 0x20) return undefined;
    i++;
  }
  const e = i;
  if (e === s || e >= n || b[e + 1] !== 0x2c) return undefined;
  i = e + 2;
  if (b[i] === 0x20) i++;
  i = expect(b, i, ACK_SEQ);
  if (i < 0) return undefined;
  const ds = i;
  let seq = 0;
  while (i < n) {
    const c = b[i] as number;
    if (c < 0x30 || c > 0x39) break;
    seq = seq * 10 + (c - 0x30);
    i++;
  }
  if (i === ds || i - ds > 15 || (b[ds] === 0x30 && i - ds > 1)) return undefined;
  let duplicate = false;
  if (b[i] !== 0x7d) {
    if (b[i] !== 0x2c) return undefined;
    i++;
    if (b[i] === 0x20) i++;
    i = expect(b, i, ACK_DUP);
    if (i < 0) return undefined;
    i = expect(b, i, ACK_TRUE);
    if (i < 0) return undefined;
    i--; // at the brace
    duplicate = true;
  }
  if (i !== n - 1) return undefined;
  let stream = lastStream;
  let same = lastStreamBytes.length === e - s;
  for (let k = 0; same && k < e - s; k++) same = lastStreamBytes[k] === b[s + k];
  if (!same) {
    stream = decoder.decode(b.subarray(s, e));
    lastStream = stream;
    lastStreamBytes = b.slice(s, e);
  }
  ackSeq = seq;
  ackDuplicate = duplicate;
  return stream;
}

/**
 * This publisher's ack inbox: under the connection's inbox prefix (per-user
 * inbox permissions), as `connectionInbox` in packages/shared (bus.ts), but
 * with a 12-character random token instead of a 22-character nuid — the reply
 * subject travels twice per message (with the publish and with its ack).
 */
function ackInbox(nc: NatsConnection): string {
  const options = (nc as { options?: { inboxPrefix?: string } }).options;
  const prefix = options?.inboxPrefix || "_INBOX";
  createInbox(prefix); // validates the prefix (no wildcards) as nats.js does
  return `${prefix}.${randomBytes(9).toString("base64url")}`;
}

/**
 * The stream's answer to a publish sent with a reply subject: its PubAck, or
 * PUBLISH_NOT_ACKED when no stream took the subject (503), the ack is
 * unreadable, or the stream refused the message (an `error` body).
 */
export function readPubAck(msg: Msg, subject: string): PubAck | UplineError {
  const status = msg.headers?.code ?? 0;
  if (status === 503) return new UplineError("PUBLISH_NOT_ACKED", `no stream stores ${subject}`);
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
    return new UplineError("PUBLISH_NOT_ACKED", `unreadable ack for ${subject}`);
  }
  if (body.error || typeof body.stream !== "string" || typeof body.seq !== "number") {
    const why = body.error?.description ?? "no stream or sequence in the ack";
    return new UplineError("PUBLISH_NOT_ACKED", `publish to ${subject} refused: ${why}`, {
      details: { err_code: body.error?.err_code },
    });
  }
  return {
    stream: body.stream,
    seq: body.seq,
    duplicate: body.duplicate === true,
    domain: body.domain ?? "",
  } as PubAck;
}

export function createJsPublisher(
  nc: NatsConnection,
  options: JsPublisherOptions = {},
): JsPublisher {
  const maxOutstanding = options.maxOutstanding ?? 1024;
  const timeoutMs = options.timeoutMs ?? 5_000;
  const prefix = ackInbox(nc);
  const replyPrefix = `${prefix}.`;
  const pending = new Map<number, Pending>();
  const waiters: (() => void)[] = [];
  const fail = (p: Pending, err: UplineError) => p.done(err, undefined);
  let next = 0;
  let closing: Promise<void> | undefined;
  let slab = new Uint8Array(SLAB_BYTES);
  // Cached: `.buffer` of a typed array is a runtime call, not a field read.
  let slabBuffer: ArrayBufferLike = slab.buffer;
  let used = 0;

  /**
   * `text` encoded into fresh slab space; returns the byte count, the bytes
   * start at `slabAt` of `slab` (views made with `new Uint8Array(buffer, …)`,
   * cheaper than `subarray`).
   */
  let slabAt = 0;
  const encodeToSlab = (text: string): number => {
    const max = text.length * 3;
    if (max > SLAB_BYTES / 4) {
      slab = encoder.encode(text);
      slabBuffer = slab.buffer;
      used = slab.length;
      slabAt = 0;
      return slab.length;
    }
    if (used + max > slab.length) {
      slab = new Uint8Array(SLAB_BYTES);
      slabBuffer = slab.buffer;
      used = 0;
    }
    const { written } = encoder.encodeInto(
      text,
      new Uint8Array(slabBuffer, used, slab.length - used),
    );
    slabAt = used;
    used += written;
    return written;
  };
  const view = (at: number, length: number): Uint8Array =>
    new Uint8Array(slabBuffer, slab.byteOffset + at, length);

  const settle = (id: number): Pending | undefined => {
    const p = pending.get(id);
    if (p === undefined) return undefined;
    pending.delete(id);
    waiters.shift()?.();
    return p;
  };

  const slowAck = (p: Pending, msg: Msg): void => {
    const ack = readPubAck(msg, p.subject);
    if (ack instanceof UplineError) fail(p, ack);
    else p.done(undefined, ack);
  };

  const onAck = (msg: Msg): void => {
    const id = Number.parseInt(msg.subject.slice(replyPrefix.length), 36);
    const p = settle(id);
    if (p === undefined) return; // timed out already
    // A status message (503: no responders) has headers; a plain ack has none.
    const stream = msg.headers === undefined ? fastAck(msg.data) : undefined;
    if (stream === undefined) {
      slowAck(p, msg);
      return;
    }
    p.done(undefined, { stream, seq: ackSeq, duplicate: ackDuplicate, domain: "" } as PubAck);
  };

  const sub = nc.subscribe(`${prefix}.*`, { callback: (_err, msg) => onAck(msg) });

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
    const reply = replyPrefix + id.toString(36);
    try {
      let hdrs = opts?.headers;
      let payload = data;
      if (hdrs !== undefined) {
        if (opts?.msgId !== undefined) hdrs.set("Nats-Msg-Id", opts.msgId);
      } else if (opts?.msgId !== undefined || opts?.traceparent !== undefined) {
        let block = "NATS/1.0";
        let ascii = true;
        const tp = opts.traceparent;
        if (tp !== undefined) {
          if (NOT_PRINTABLE.test(tp)) {
            if (CR_OR_LF.test(tp)) throw new TypeError("traceparent cannot contain CR or LF");
            ascii = false;
          }
          block += `\r\ntraceparent: ${tp}`;
        }
        const msgId = opts.msgId;
        if (msgId !== undefined) {
          if (NOT_PRINTABLE.test(msgId)) {
            if (CR_OR_LF.test(msgId)) throw new TypeError("Nats-Msg-Id cannot contain CR or LF");
            ascii = false;
          }
          block += `\r\nNats-Msg-Id: ${msgId}`;
        }
        block += "\r\n\r\n";
        if (typeof data === "string" && ascii) {
          // One encodeInto for both; the block is ASCII, so its length is its byte count.
          const n = encodeToSlab(block + data);
          hdrs = new EncodedHeaders(view(slabAt, block.length)) as unknown as MsgHdrs;
          payload = view(slabAt + block.length, n - block.length);
        } else {
          const n = encodeToSlab(block);
          hdrs = new EncodedHeaders(view(slabAt, n)) as unknown as MsgHdrs;
          if (typeof data === "string") {
            const m = encodeToSlab(data);
            payload = view(slabAt, m);
          }
        }
      }
      pending.set(id, { done, subject, deadline: Date.now() + timeoutMs });
      nc.publish(subject, payload, hdrs === undefined ? { reply } : { reply, headers: hdrs });
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
    const retry = () => {
      if (pending.size < maxOutstanding || closing) sendNow(subject, data, opts, done);
      else waiters.unshift(retry);
    };
    waiters.push(retry);
  };

  return {
    publish: (subject, data, opts) =>
      new Promise<PubAck>((resolve, reject) =>
        send(subject, data, opts, (err, ack) => (err ? reject(err) : resolve(ack as PubAck))),
      ),
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

/** The fast ack reader on its own (tests): what it read, or undefined when it leaves the ack to JSON.parse. */
export function readAckFast(
  bytes: Uint8Array,
): { stream: string; seq: number; duplicate: boolean } | undefined {
  const stream = fastAck(bytes);
  return stream === undefined ? undefined : { stream, seq: ackSeq, duplicate: ackDuplicate };
}
