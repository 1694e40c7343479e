/**
 * Audit without putting JetStream's ack on the signing path: each event is
 * published at once and its ack awaited in the background, with a bound on
 * events in flight. Fail closed: while the bound is reached, or after AUDIT
 * refused an event (until one is acknowledged again), grants are refused.
 *
 * With a {@link JsPublisher} (the signer's normal wiring) the event is built
 * and sent here, by hand: no promise, zod pass or closure chain per event (the
 * shape is ours and fixed — request.test.ts/signer.int.test.ts check it against
 * the AuditEvent schema). Same contract as `createFastAuditPublisher`: the
 * stream's ack (or PUBLISH_NOT_ACKED) is what settles an event, `Nats-Msg-Id`
 * is the event id, string values are scrubbed of bearer tokens and JWS, and a
 * PRODUCER span is made while a recording span is active.
 */
import { type Span, SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
import {
  AUDIT_SECRET_KEY,
  type AuditPublisher,
  type AuditRecord,
  type JsPublisher,
  type Logger,
  redactAuditData,
  type Subjects,
  scrubSecrets,
  traceparentOf,
  type UplineError,
  uuidv7,
} from "@upline/shared";

export interface AuditSink {
  /** Publishes an event; never throws, never waits for the ack. */
  readonly record: (event: AuditRecord) => void;
  /** May a grant be made now (audit healthy and not saturated)? */
  readonly canGrant: () => boolean;
  readonly inFlight: () => number;
  /** Resolves once every event in flight is acknowledged or failed. */
  readonly drain: () => Promise<void>;
}

export interface DirectAudit {
  readonly jsp: JsPublisher;
  readonly subjects: Subjects;
  readonly clock: () => number;
}

const NO_TRACE = "0".repeat(32);
const MAY_HOLD_SECRET = /[\s.]/;
const tracer = trace.getTracer("@upline/signer");

/**
 * `redactAuditData` for the flat events the signer builds (string, number,
 * boolean or null values): string values scrubbed, nothing else to walk. Any
 * nested value → the general redaction.
 */
function redactFlat(data: Readonly<Record<string, unknown>>): Readonly<Record<string, unknown>> {
  // Usually nothing to change (ids, hex digests, codes): then `data` itself, no copy.
  let scrub = false;
  for (const k in data) {
    const v = data[k];
    // scrubSecrets changes only text with whitespace (`Bearer <token>`) or a dot (a JWS).
    if (typeof v === "string") {
      if (MAY_HOLD_SECRET.test(v)) scrub = true;
    } else if (v !== null && typeof v === "object") return redactAuditData(data);
  }
  if (!scrub) return data;
  const out: Record<string, unknown> = {};
  for (const k in data) {
    const v = data[k];
    out[k] = typeof v === "string" && MAY_HOLD_SECRET.test(v) ? scrubSecrets(v) : v;
  }
  return out;
}

/** The field names the signer's events use (none matches AUDIT_SECRET_KEY): no regex for them. */
const KNOWN_KEYS = new Set([
  "caller",
  "key_id",
  "method",
  "path",
  "params_digest",
  "key_version",
  "decision",
  "code",
  "replica",
  "event",
  "op",
  "version",
  "reason",
  "not_after",
  "days_left",
]);
/** What `redactAuditData` makes of the signer's events (see hand-checks.test.ts). */
export function redact(data: Readonly<Record<string, unknown>>): Readonly<Record<string, unknown>> {
  for (const k in data)
    if (!KNOWN_KEYS.has(k) && AUDIT_SECRET_KEY.test(k)) return redactAuditData(data);
  return redactFlat(data);
}

// A string JSON.stringify leaves as is between quotes: no quote, backslash,
// control character or surrogate (a lone one is escaped; pairs are rare here).
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it looks for
const PLAIN = /^[^"\\\u0000-\u001f\ud800-\udfff]*$/;
const quoted = (s: string): string => (PLAIN.test(s) ? `"${s}"` : JSON.stringify(s));

/**
 * The event's JSON text, the same bytes as `JSON.stringify` of the AuditEvent
 * object (fields in schema order; see hand-checks.test.ts), without building
 * that object: flat `data` (strings, numbers, booleans, null) is written here,
 * anything else goes through JSON.stringify.
 */
export function eventJson(
  id: string,
  ts: string,
  kind: string,
  outcome: string,
  traceId: string | undefined,
  actor: string | undefined,
  data: Readonly<Record<string, unknown>>,
): string {
  let out = `{"id":${quoted(id)},"ts":${quoted(ts)},"service":"signer","kind":${quoted(kind)},"outcome":${quoted(outcome)}`;
  if (traceId !== undefined) out += `,"trace_id":${quoted(traceId)}`;
  if (actor !== undefined) out += `,"actor":${quoted(actor)}`;
  out += ',"data":{';
  let first = true;
  for (const k in data) {
    const v = data[k];
    let text: string;
    if (typeof v === "string") text = quoted(v);
    else if (typeof v === "number") text = Number.isSafeInteger(v) ? String(v) : JSON.stringify(v);
    else if (typeof v === "boolean") text = v ? "true" : "false";
    else if (v === null) text = "null";
    else {
      const t = JSON.stringify(v) as string | undefined;
      if (t === undefined) continue; // JSON.stringify leaves such a field out
      text = t;
    }
    out += `${first ? "" : ","}${quoted(k)}:${text}`;
    first = false;
  }
  return `${out}}}`;
}

export function createAuditSink(
  publisher: AuditPublisher,
  options: {
    readonly maxInFlight: number;
    readonly logger: Logger;
    readonly onFailure?: () => void;
    /** Build and publish events here (no promise per event); `publisher` is then unused. */
    readonly direct?: DirectAudit;
  },
): AuditSink {
  let inFlight = 0;
  let healthy = true;
  let drained: (() => void)[] = [];
  const settled = (kind: string, err: unknown) => {
    inFlight--;
    if (err === undefined) healthy = true;
    else {
      if (healthy)
        options.logger.error({ err, kind }, "audit event not acknowledged: refusing grants");
      healthy = false;
      options.onFailure?.();
    }
    if (inFlight === 0 && drained.length > 0) {
      const waiting = drained;
      drained = [];
      for (const w of waiting) w();
    }
  };

  const direct = options.direct;
  // Many events share a millisecond under load: one toISOString per millisecond.
  let isoAt = Number.NaN;
  let iso = "";
  const subjectOf = new Map<string, string>();
  const send = (d: DirectAudit, { kind, outcome, data, actor }: AuditRecord) => {
    const now = d.clock();
    const active = trace.getActiveSpan();
    let span: Span | undefined;
    if (active?.isRecording())
      span = tracer.startSpan(`audit publish ${kind}`, {
        kind: SpanKind.PRODUCER,
        attributes: { "messaging.system": "nats", "audit.kind": kind },
      });
    const ctx = (span ?? active)?.spanContext();
    const id = uuidv7(now);
    if (now !== isoAt) {
      isoAt = now;
      iso = new Date(now).toISOString();
    }
    const traceId = ctx !== undefined && ctx.traceId !== NO_TRACE ? ctx.traceId : undefined;
    let subject = subjectOf.get(kind);
    if (subject === undefined) {
      subject = d.subjects.audit.event("signer", kind);
      subjectOf.set(kind, subject);
    }
    const traceparent = ctx === undefined ? undefined : traceparentOf(ctx);
    const done: Parameters<JsPublisher["send"]>[3] = (err) => {
      if (span !== undefined) {
        if (err) span.setStatus({ code: SpanStatusCode.ERROR, message: (err as UplineError).code });
        span.end();
      }
      settled(kind, err);
    };
    d.jsp.send(
      subject,
      eventJson(id, iso, kind, outcome, traceId, actor, redact(data)),
      traceparent === undefined ? { msgId: id } : { msgId: id, traceparent },
      done,
    );
  };

  return {
    record: (event) => {
      inFlight++;
      if (direct !== undefined) {
        try {
          send(direct, event);
        } catch (err) {
          settled(event.kind, err);
        }
        return;
      }
      publisher.record(event).then(
        () => settled(event.kind, undefined),
        (err: unknown) => settled(event.kind, err ?? new Error("audit publish failed")),
      );
    },
    canGrant: () => healthy && inFlight < options.maxInFlight,
    inFlight: () => inFlight,
    drain: () =>
      inFlight === 0 ? Promise.resolve() : new Promise<void>((r) => void drained.push(r)),
  };
}
