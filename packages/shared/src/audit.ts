/**
 * Publishing audit events (DESIGN.md, "Audit event"): every service records
 * what it was asked and what happened on `audit.v1.<service>.<kind>`, stream
 * AUDIT, with the event id as `Nats-Msg-Id` so a retried publish is stored once.
 */
import { randomBytes } from "node:crypto";
import type { JetStreamClient, PubAck } from "@nats-io/jetstream";
import { trace } from "@opentelemetry/api";
import { publishEvent } from "./bus.ts";
import { scrubSecrets } from "./log.ts";
import { AuditEvent, type AuditOutcome } from "./schemas.ts";
import type { ServiceName, Subjects } from "./subjects.ts";

/** A UUIDv7 (RFC 9562): 48-bit Unix milliseconds, then random bits; sorts by time. */
export function uuidv7(nowMs: number = Date.now()): string {
  const b = randomBytes(16);
  b.writeUIntBE(nowMs, 0, 6);
  b[6] = ((b[6] as number) & 0x0f) | 0x70;
  b[8] = ((b[8] as number) & 0x3f) | 0x80;
  const h = b.toString("hex");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** Keys whose values are never put into an audit event, at any depth. */
const SECRET_KEY =
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
      out[k] = SECRET_KEY.test(k) ? "[redacted]" : walk(v, depth + 1);
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

export function createAuditPublisher(
  js: JetStreamClient,
  subjects: Subjects,
  service: ServiceName,
  clock: () => number = Date.now,
): AuditPublisher {
  return {
    record: async ({ kind, outcome, data, actor }) => {
      const now = clock();
      const spanCtx = trace.getActiveSpan()?.spanContext();
      const event: AuditEvent = {
        id: uuidv7(now),
        ts: new Date(now).toISOString(),
        service,
        kind,
        outcome,
        ...(spanCtx && spanCtx.traceId !== "0".repeat(32) ? { trace_id: spanCtx.traceId } : {}),
        ...(actor === undefined ? {} : { actor }),
        data: redactAuditData(data),
      };
      const ack = await publishEvent(js, subjects.audit.event(service, kind), AuditEvent, event, {
        msgId: event.id,
        name: `audit ${kind}`,
      });
      return { event, ack };
    },
  };
}
