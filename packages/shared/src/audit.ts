/**
 * Publishing audit events (DESIGN.md, "Audit event"): every service records
 * what it was asked and what happened on `audit.v1.<service>.<kind>`, stream
 * AUDIT, with the event id as `Nats-Msg-Id` so a retried publish is stored once.
 */
import { randomBytes } from "node:crypto";
import type { JetStreamClient, PubAck } from "@nats-io/jetstream";
import { SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
import { encodeMessage, publishEvent } from "./bus.ts";
import type { UplineError } from "./errors.ts";
import type { JsPublisher } from "./js-publisher.ts";
import { scrubSecrets } from "./log.ts";
import { AuditEvent, type AuditOutcome } from "./schemas.ts";
import type { ServiceName, Subjects } from "./subjects.ts";
import { traceparentOf } from "./trace-context.ts";

// One CSPRNG call per 256 ids (like randomUUID's cache); each byte is used once.
let pool = Buffer.alloc(0);
let poolAt = 0;

/** Two ASCII hex digits per byte value, for {@link uuidv7}. */
const HEX_DIGITS = new Uint8Array(512);
for (let i = 0; i < 256; i++) {
  HEX_DIGITS[2 * i] = "0123456789abcdef".charCodeAt(i >> 4);
  HEX_DIGITS[2 * i + 1] = "0123456789abcdef".charCodeAt(i & 15);
}
/** The id's text is written here, then read as one string (its dashes stay). */
const idText = Buffer.from("00000000-0000-0000-0000-000000000000", "latin1");
/** Where each of the 16 bytes' two digits go in the 36-character form. */
const DIGIT_AT = [0, 2, 4, 6, 9, 11, 14, 16, 19, 21, 24, 26, 28, 30, 32, 34];

/** A UUIDv7 (RFC 9562): 48-bit Unix milliseconds, then random bits; sorts by time. */
export function uuidv7(nowMs: number = Date.now()): string {
  if (poolAt + 16 > pool.length) {
    pool = randomBytes(4096);
    poolAt = 0;
  }
  // Integer milliseconds in 48 bits (always, for clock times): the text straight
  // from the pool's bytes, one string allocated. Anything else: as before.
  if (!(Number.isInteger(nowMs) && nowMs >= 0 && nowMs <= 0xffff_ffff_ffff))
    return uuidv7Buffer(nowMs);
  const at = poolAt;
  poolAt += 16;
  const high = Math.floor(nowMs / 0x1_0000_0000);
  const low = nowMs - high * 0x1_0000_0000;
  const hex = (i: number, byte: number) => {
    const to = DIGIT_AT[i] as number;
    idText[to] = HEX_DIGITS[2 * byte] as number;
    idText[to + 1] = HEX_DIGITS[2 * byte + 1] as number;
  };
  hex(0, high >>> 8);
  hex(1, high & 0xff);
  hex(2, low >>> 24);
  hex(3, (low >>> 16) & 0xff);
  hex(4, (low >>> 8) & 0xff);
  hex(5, low & 0xff);
  hex(6, ((pool[at + 6] as number) & 0x0f) | 0x70);
  hex(7, pool[at + 7] as number);
  hex(8, ((pool[at + 8] as number) & 0x3f) | 0x80);
  for (let i = 9; i < 16; i++) hex(i, pool[at + i] as number);
  return idText.toString("latin1", 0, 36);
}

/** {@link uuidv7} through a Buffer: for times that are not integer milliseconds in 48 bits (throws like `writeUIntBE`). */
function uuidv7Buffer(nowMs: number): string {
  const b = Buffer.from(pool.subarray(poolAt, poolAt + 16));
  poolAt += 16;
  b.writeUIntBE(nowMs, 0, 6);
  b[6] = ((b[6] as number) & 0x0f) | 0x70;
  b[8] = ((b[8] as number) & 0x3f) | 0x80;
  const h = b.toString("hex");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/**
 * Keys whose values are never put into an audit event, at any depth. Exported
 * so that hand-written audit encoders can tell when data needs this redaction.
 */
export const AUDIT_SECRET_KEY =
  /^(secret|secret_key|secretkey|password|token|authorization|bearer|jws|jwt|private_key|seed)$/i;

/**
 * Returns a copy of `data` with secret-named fields replaced and bearer tokens
 * or compact JWS scrubbed from strings. Services should not pass secrets at all;
 * this is the last guard before the bus.
 */
export function redactAuditData(data: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const walk = (value: unknown, depth: number): unknown => {
    if (typeof value === "string") return scrubSecrets(value);
    if (value === null || typeof value !== "object" || depth > 8) return value;
    if (Array.isArray(value)) return value.map((v) => walk(v, depth + 1));
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value))
      out[k] = AUDIT_SECRET_KEY.test(k) ? "[redacted]" : walk(v, depth + 1);
    return out;
  };
  return walk(data, 0) as Record<string, unknown>;
}

export interface AuditRecord {
  readonly kind: string;
  readonly outcome: AuditOutcome;
  readonly data: Readonly<Record<string, unknown>>;
  readonly actor?: string;
}

export interface AuditPublisher {
  /**
   * Publishes one event and resolves once JetStream has stored it; rejects with
   * PUBLISH_NOT_ACKED otherwise (callers that must fail closed wait for this).
   */
  readonly record: (
    event: AuditRecord,
  ) => Promise<{ readonly event: AuditEvent; readonly ack: PubAck }>;
}

function buildEvent(
  service: ServiceName,
  now: number,
  { kind, outcome, data, actor }: AuditRecord,
): AuditEvent {
  const spanCtx = trace.getActiveSpan()?.spanContext();
  return {
    id: uuidv7(now),
    ts: new Date(now).toISOString(),
    service,
    kind,
    outcome,
    ...(spanCtx && spanCtx.traceId !== NO_TRACE ? { trace_id: spanCtx.traceId } : {}),
    ...(actor === undefined ? {} : { actor }),
    data: redactAuditData(data),
  };
}

const NO_TRACE = "0".repeat(32);
const tracer = trace.getTracer("@upline/shared");

export function createAuditPublisher(
  js: JetStreamClient,
  subjects: Subjects,
  service: ServiceName,
  clock: () => number = Date.now,
): AuditPublisher {
  return {
    record: async (record) => {
      const event = buildEvent(service, clock(), record);
      const { kind } = record;
      const ack = await publishEvent(js, subjects.audit.event(service, kind), AuditEvent, event, {
        msgId: event.id,
        name: `audit ${kind}`,
      });
      return { event, ack };
    },
  };
}

/**
 * The same contract as {@link createAuditPublisher} — `record` resolves only
 * once JetStream has stored the event, PUBLISH_NOT_ACKED otherwise (stream
 * full or missing, no ack within the publisher's timeout) — published through
 * a {@link JsPublisher} (core publish with a reply subject, acks on one
 * wildcard inbox): no `js.publish` request, span or timer per event. The event
 * is validated and redacted as before and carries `trace_id` when a span is
 * active; `Nats-Msg-Id` is the event id. For hot paths (signer grants,
 * order-exec waiting for the ack before sending an order).
 */
export function createFastAuditPublisher(
  publisher: JsPublisher,
  subjects: Subjects,
  service: ServiceName,
  clock: () => number = Date.now,
): AuditPublisher {
  const send = async (record: AuditRecord, traceparent: string | undefined) => {
    const event = buildEvent(service, clock(), record);
    const subject = subjects.audit.event(service, record.kind);
    const body = encodeMessage(AuditEvent, event, subject);
    const ack = await publisher.publish(subject, body, {
      msgId: event.id,
      ...(traceparent === undefined ? {} : { traceparent }),
    });
    return { event, ack };
  };
  return {
    record: (record) => {
      const active = trace.getActiveSpan();
      // Outside a sampled trace: no span, but the context still travels.
      if (active === undefined || !active.isRecording()) {
        return send(record, active === undefined ? undefined : traceparentOf(active.spanContext()));
      }
      return tracer.startActiveSpan(
        `audit publish ${record.kind}`,
        {
          kind: SpanKind.PRODUCER,
          attributes: { "messaging.system": "nats", "audit.kind": record.kind },
        },
        async (span) => {
          try {
            return await send(record, traceparentOf(span.spanContext()));
          } catch (err) {
            span.setStatus({ code: SpanStatusCode.ERROR, message: (err as UplineError).code });
            throw err;
          } finally {
            span.end();
          }
        },
      );
    },
  };
}
