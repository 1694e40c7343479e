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

export function ingest(body: Uint8Array, origin: MessageOrigin, now: () => number): Ingested {
  try {
    const parsed = decodeMessage(AuditEvent, body, `audit event on ${origin.subject}`);
    const { data, paths } = redactForStorage(storableCopy(parsed.data) as Record<string, unknown>);
    const event: ChainEvent = {
      id: parsed.id,
      ts: normalizeTs(parsed.ts),
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
