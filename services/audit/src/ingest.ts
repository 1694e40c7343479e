/**
 * From a message body on `audit.v1.>` to the event that is stored, pure:
 * validate against the AuditEvent contract, normalize `ts`, make strings
 * storable, redact. A body that is not a valid event becomes an `invalid_event`
 * record of the audit service itself (nothing received is silently dropped).
 */
import { createHash } from "node:crypto";
import { AuditEvent, decodeMessage, isUplineError, ServiceName } from "@upline/shared";
import type { ChainEvent } from "./chain.ts";
import { redactForStorage } from "./redact.ts";

export type Ingested =
  | {
      readonly ok: true;
      readonly event: ChainEvent;
      /** Paths redacted here (the publisher leaked): raise an alarm. */
      readonly redactedPaths: readonly string[];
    }
  | { readonly ok: false; readonly event: ChainEvent; readonly code: string };

/** Where a message came from: used to give an invalid body a stable id. */
export interface MessageOrigin {
  readonly subject: string;
  readonly stream: string;
  readonly streamSeq: number;
}

// PostgreSQL's jsonb and text cannot hold U+0000 or lone surrogates.
const NUL = new RegExp(String.fromCharCode(0), "g");

/**
 * True when {@link storable} would change something in `value`. Checked first
 * so the common case (nothing to fix) copies nothing: `storable` builds a new
 * object for every object and array it walks.
 */
function needsFix(value: unknown, depth = 0): boolean {
  if (typeof value === "string") return !value.isWellFormed() || value.includes("\u0000");
  if (value === null || typeof value !== "object" || depth > 32) return false;
  if (Array.isArray(value)) {
    for (const v of value) if (needsFix(v, depth + 1)) return true;
    return false;
  }
  for (const k in value) {
    if (!Object.hasOwn(value, k)) continue;
    if (needsFix(k) || needsFix((value as Record<string, unknown>)[k], depth + 1)) return true;
  }
  return false;
}

function storableCopy(value: unknown): unknown {
  return needsFix(value) ? storable(value) : value;
}

function storable(value: unknown, depth = 0): unknown {
  if (typeof value === "string") {
    const wellFormed = value.isWellFormed() ? value : value.toWellFormed();
    return wellFormed.includes("\u0000") ? wellFormed.replace(NUL, "\uFFFD") : wellFormed;
  }
  if (value === null || typeof value !== "object" || depth > 32) return value;
  if (Array.isArray(value)) return value.map((v) => storable(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[storable(k) as string] = storable(v, depth + 1);
  return out;
}

/** `ts` as stored and hashed: UTC, millisecond precision, `Z`. */
export function normalizeTs(ts: string): string {
  return new Date(ts).toISOString();
}

/** A stable UUID-shaped id (version nibble 8) for a body that has no valid id of its own. */
function derivedId(origin: MessageOrigin, body: Uint8Array): string {
  const h = createHash("sha256")
    .update(`${origin.stream}:${origin.streamSeq}:`)
    .update(body)
    .digest("hex");
  const v = `8${h.slice(13, 16)}`;
  const variant = ((Number.parseInt(h[16] as string, 16) & 0x3) | 0x8).toString(16);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${v}-${variant}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

// ---------------------------------------------------------------- fast decode
//
// The common body is a well-formed event already in stored form (`ts` in UTC
// with milliseconds). For it, a hand check replaces zod's parse (which copies
// the object and `data`) and `normalizeTs` (a Date round trip). It only ever
// says "certainly valid, and this is what zod and normalizeTs would give";
// anything else (a missing or extra key, an offset `ts`, a `__proto__` key in
// `data`, …) goes the general way, so errors are zod's. A differential test
// holds it to the `AuditEvent` schema on good, bad and generated bodies.

const UUID_V7 =
  /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-7[0-9a-fA-F]{3}-[89abAB][0-9a-fA-F]{3}-[0-9a-fA-F]{12}$/;
const KIND = /^[a-z][a-z0-9_-]*$/;
const TRACE_ID = /^[0-9a-f]{32}$/;
// zod's date pattern (calendar days, leap years), then a UTC time with exactly
// milliseconds: the form `normalizeTs` returns unchanged.
const TS_STORED =
  /^(?:(?:\d\d[2468][048]|\d\d[13579][26]|\d\d0[48]|[02468][048]00|[13579][26]00)-02-29|\d{4}-(?:(?:0[13578]|1[02])-(?:0[1-9]|[12]\d|3[01])|(?:0[469]|11)-(?:0[1-9]|[12]\d|30)|(?:02)-(?:0[1-9]|1\d|2[0-8])))T(?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d\.\d{3}Z$/;
const SERVICES: ReadonlySet<unknown> = new Set(AuditEvent.shape.service.options);
const OUTCOMES: ReadonlySet<unknown> = new Set(AuditEvent.shape.outcome.options);

/**
 * The parsed body as an {@link AuditEvent} with `ts` already normalized when
 * it certainly is one and needs nothing of zod's output; otherwise undefined
 * (the caller then takes the general path). Exported for the differential test.
 */
export function fastAuditEvent(raw: unknown): AuditEvent | undefined {
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) return undefined;
  const o = raw as Record<string, unknown>;
  let n = 0;
  for (const k in o) {
    // strict: only the schema's keys (own, enumerable: JSON.parse makes no others)
    if (
      k !== "id" &&
      k !== "ts" &&
      k !== "service" &&
      k !== "kind" &&
      k !== "outcome" &&
      k !== "data" &&
      k !== "trace_id" &&
      k !== "actor"
    )
      return undefined;
    n++;
  }
  const { id, ts, service, kind, outcome, trace_id, actor, data } = o;
  if (
    typeof id !== "string" ||
    typeof ts !== "string" ||
    typeof kind !== "string" ||
    !SERVICES.has(service) ||
    !OUTCOMES.has(outcome) ||
    !UUID_V7.test(id) ||
    !TS_STORED.test(ts) ||
    !KIND.test(kind)
  )
    return undefined;
  if (trace_id !== undefined && (typeof trace_id !== "string" || !TRACE_ID.test(trace_id)))
    return undefined;
  if (actor !== undefined && typeof actor !== "string") return undefined;
  if (data === null || typeof data !== "object" || Array.isArray(data)) return undefined;
  // zod's record drops an own `__proto__` key (JSON.parse makes one); leave that to it.
  if (Object.hasOwn(data, "__proto__")) return undefined;
  if (n !== 6 + (trace_id === undefined ? 0 : 1) + (actor === undefined ? 0 : 1)) return undefined;
  return o as AuditEvent;
}

/** Decode + validate + normalize `ts`: the fast check, else zod. Exported for the differential test. */
export function decodeEvent(body: Uint8Array, what: () => string): AuditEvent {
  let raw: unknown;
  try {
    // nats.js hands out Buffers: decoded in place, no view per message.
    const text = Buffer.isBuffer(body)
      ? body.toString("utf8")
      : Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString("utf8");
    raw = JSON.parse(text);
  } catch {
    raw = undefined; // decodeMessage below reports it as zod/JSON would
  }
  const fast = raw === undefined ? undefined : fastAuditEvent(raw);
  if (fast) return fast;
  const parsed = decodeMessage(AuditEvent, body, what());
  return { ...parsed, ts: normalizeTs(parsed.ts) };
}

export function ingest(body: Uint8Array, origin: MessageOrigin, now: () => number): Ingested {
  try {
    // the subject is only read (decoded from bytes by nats.js) for an error
    const parsed = decodeEvent(body, () => `audit event on ${origin.subject}`);
    const { data, paths } = redactForStorage(storableCopy(parsed.data) as Record<string, unknown>);
    const event: ChainEvent = {
      id: parsed.id,
      ts: parsed.ts,
      service: parsed.service,
      kind: parsed.kind,
      outcome: parsed.outcome,
      trace_id: parsed.trace_id,
      actor: parsed.actor === undefined ? undefined : (storableCopy(parsed.actor) as string),
      data,
    };
    return { ok: true, event, redactedPaths: paths };
  } catch (err) {
    const code = isUplineError(err) ? err.code : "INTERNAL";
    return {
      ok: false,
      code,
      event: {
        id: derivedId(origin, body),
        ts: new Date(now()).toISOString(),
        service: ServiceName.Audit,
        kind: "invalid_event",
        outcome: "error",
        data: {
          subject: origin.subject,
          stream_seq: origin.streamSeq,
          bytes: body.byteLength,
          error: code,
        },
      },
    };
  }
}
