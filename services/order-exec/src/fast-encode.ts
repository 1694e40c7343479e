/**
 * Hand-built JSON for the two messages every order produces on order-exec's
 * thread: its audit records (`order_submit` before the POST, `order_response`
 * after it) and its order event. The schema path (`encodeMessage`: a zod parse
 * that copies the message, plus the redaction walk for audit data) allocated
 * ≈ 28 KB of the ≈ 117 KB per order. Each encoder here vouches only for what
 * it checks completely and is byte-for-byte the schema path's output; for
 * anything else it returns `undefined` and the caller takes the schema path,
 * so refusals keep the schema's exact error. Held to the schema path by
 * test/fast-encode.test.ts (good, bad and generated inputs).
 */
import type { PubAck } from "@nats-io/jetstream";
import { type Span, trace } from "@opentelemetry/api";
import {
  AUDIT_SECRET_KEY,
  AuditEvent,
  type AuditPublisher,
  type AuditRecord,
  createFastAuditPublisher,
  encodeMessage,
  isMarketCode,
  type JsPublisher,
  OrderEvent,
  OrdType,
  redactAuditData,
  type ServiceName,
  Side,
  type Subjects,
  traceparentOf,
  uuidv7,
} from "@upline/shared";

/** Strings JSON.stringify leaves as they are (no quote, backslash, control or non-ASCII character). */
const PLAIN = /^[A-Za-z0-9._:@/+=-]*$/;
/** JSON text of a string: as is when plain, JSON.stringify otherwise. */
const str = (s: string) => (PLAIN.test(s) ? `"${s}"` : JSON.stringify(s));
/**
 * Strings the audit redaction (`scrubSecrets`: "Bearer <token>", compact JWS
 * starting "eyJ") leaves as they are: neither pattern can match without these.
 */
const BEARER = /bearer/i;
const unscrubbed = (s: string) => !s.includes("eyJ") && !BEARER.test(s);
/** Plain (no escaping) and unscrubbed in one pass: the usual audit value. */
const PLAIN_UNSCRUBBED = /^(?!.*(?:eyJ|[Bb][Ee][Aa][Rr][Ee][Rr]))[A-Za-z0-9._:@/+=-]*$/;
/**
 * Data keys already found plain and not secret-named, with their JSON text
 * `"key":` first and after a comma (bounded: keys are a small fixed set).
 */
const dataKeys = new Map<string, readonly [string, string]>();
const SERVICES: ReadonlySet<string> = new Set([
  "market-feed",
  "order-exec",
  "signer",
  "audit",
  "cli",
]);

/** Data keys the redaction keeps as they are and JSON.stringify does not escape. */
const DATA_KEY = /^[a-z_][a-z0-9_]*$/;
const KIND = /^[a-z][a-z0-9_-]*$/;
const TRACE_ID = /^[0-9a-f]{32}$/;
const OUTCOMES: ReadonlySet<string> = new Set(["ok", "error", "denied"]);
/** `Date.prototype.toISOString` for years 0000–9999: always a valid IsoTime. */
const ISO_MS = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

/** The envelope of an audit event, as `buildEvent` in packages/shared makes it. */
export interface AuditHead {
  readonly id: string;
  readonly ts: string;
  readonly service: ServiceName;
  readonly kind: string;
  readonly outcome: string;
  readonly trace_id?: string;
  readonly actor?: string;
}

const isPlainObject = (v: unknown): v is Record<string, unknown> => {
  if (v === null || typeof v !== "object") return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
};

/**
 * `encodeMessage(AuditEvent, {...head, data: redactAuditData(data)})` by hand
 * for a flat record: every value a string the redaction would not change, a
 * boolean, a finite number or undefined; keys lower-case and not secret-named.
 * `undefined` for anything else (the caller takes the schema path).
 */
export function fastAuditBody(
  head: AuditHead,
  data: Readonly<Record<string, unknown>>,
): string | undefined {
  if (!PLAIN.test(head.id) || !ISO_MS.test(head.ts) || !isPlainObject(data)) return undefined;
  // The schema checks the id as a UUIDv7; the hand path only takes uuidv7()'s shape.
  if (!UUID_V7.test(head.id)) return undefined;
  const middle = headMiddle(head.service, head.kind, head.outcome);
  if (middle === undefined) return undefined;
  let out = `{"id":"${head.id}","ts":"${head.ts}${middle}`;
  if (head.trace_id !== undefined) {
    if (!TRACE_ID.test(head.trace_id)) return undefined;
    out += `,"trace_id":"${head.trace_id}"`;
  }
  if (head.actor !== undefined) {
    if (typeof head.actor !== "string") return undefined;
    out += `,"actor":${str(head.actor)}`;
  }
  out += ',"data":{';
  let first = true;
  const keys = Object.keys(data);
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i] as string;
    let key = dataKeys.get(k);
    if (key === undefined) {
      if (k === "__proto__" || !DATA_KEY.test(k) || AUDIT_SECRET_KEY.test(k)) return undefined;
      key = [`"${k}":`, `,"${k}":`];
      if (dataKeys.size < 256) dataKeys.set(k, key);
    }
    const v = data[k];
    if (v === undefined) continue;
    out += first ? key[0] : key[1];
    first = false;
    if (typeof v === "string") {
      if (PLAIN_UNSCRUBBED.test(v)) out += `"${v}"`;
      else if (unscrubbed(v)) out += JSON.stringify(v);
      else return undefined;
    } else if (typeof v === "boolean") out += v ? "true" : "false";
    else if (typeof v === "number" && Number.isFinite(v)) out += JSON.stringify(v);
    else return undefined;
  }
  return `${out}}}`;
}

/**
 * `","service":"…","kind":"…","outcome":"…"` for a checked triple (kept: a
 * service writes a small fixed set of them), undefined when one is not valid.
 */
const middles = new Map<string, { service: string; outcome: string; middle: string }[]>();
let middleCount = 0;
function headMiddle(service: string, kind: string, outcome: string): string | undefined {
  const known = middles.get(kind);
  if (known !== undefined)
    for (const m of known) if (m.service === service && m.outcome === outcome) return m.middle;
  if (!SERVICES.has(service) || !KIND.test(kind) || !OUTCOMES.has(outcome)) return undefined;
  const middle = `","service":"${service}","kind":"${kind}","outcome":"${outcome}"`;
  if (middleCount < 256) {
    middleCount++;
    if (known === undefined) middles.set(kind, [{ service, outcome, middle }]);
    else known.push({ service, outcome, middle });
  }
  return middle;
}

const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

const NO_TRACE = "0".repeat(32);

/**
 * {@link createFastAuditPublisher}'s contract (resolves only once JetStream
 * stored the event; PUBLISH_NOT_ACKED otherwise) with the event built by
 * {@link fastAuditBody} when it can vouch for it, by the schema path (redaction,
 * zod, JSON.stringify) otherwise. Inside a recording span the shared
 * publisher itself runs (it wraps the publish in a PRODUCER span).
 */
export function createOrderAuditPublisher(
  publisher: JsPublisher,
  subjects: Subjects,
  service: ServiceName,
  clock: () => number = Date.now,
): AuditPublisher {
  const general = createFastAuditPublisher(publisher, subjects, service, clock);
  const subjectsByKind = new Map<string, string>();
  const send = (record: AuditRecord, active: Span | undefined) => {
    const now = clock();
    const spanCtx = active?.spanContext();
    // One object, its keys in buildEvent's order (id … actor, then data): the
    // head for the hand encoder, then the event itself.
    const event: { -readonly [K in keyof AuditHead]: AuditHead[K] } & { data?: unknown } = {
      id: uuidv7(now),
      ts: isoTime(now),
      service,
      kind: record.kind,
      outcome: record.outcome,
    };
    if (spanCtx !== undefined && spanCtx.traceId !== NO_TRACE) event.trace_id = spanCtx.traceId;
    if (record.actor !== undefined) event.actor = record.actor;
    let subject = subjectsByKind.get(record.kind);
    if (subject === undefined) {
      subject = subjects.audit.event(service, record.kind);
      if (subjectsByKind.size < 256) subjectsByKind.set(record.kind, subject);
    }
    let body = fastAuditBody(event, record.data);
    if (body === undefined) {
      // The schema path, exactly as the shared publisher builds and checks it.
      event.data = redactAuditData(record.data);
      body = encodeMessage(AuditEvent, event as AuditEvent, subject);
    } else event.data = record.data;
    const done = event as AuditEvent;
    const tp = spanCtx === undefined ? undefined : traceparentOf(spanCtx);
    const options = tp === undefined ? { msgId: done.id } : { msgId: done.id, traceparent: tp };
    const text = body;
    const to = subject;
    // `send` with a callback: one promise per record instead of two.
    return new Promise<{ readonly event: AuditEvent; readonly ack: PubAck }>((resolve, reject) =>
      publisher.send(to, text, options, (err, ack) =>
        err === undefined ? resolve({ event: done, ack: ack as PubAck }) : reject(err),
      ),
    );
  };
  return {
    record: (record: AuditRecord) => {
      const active = trace.getActiveSpan();
      // A sampled trace gets the shared publisher's span around the publish.
      if (active?.isRecording()) return general.record(record);
      try {
        return send(record, active);
      } catch (err) {
        // Refused before anything was sent (bad kind, invalid event): a rejection, as before.
        return Promise.reject(err);
      }
    },
  };
}

// ---------------------------------------------------------------- timestamps

const isoText = Buffer.from("0000-00-00T00:00:00.", "latin1");
/** `n` as `width` decimal digits (leading zeros) at `at` of {@link isoText}. */
const digitsAt = (at: number, n: number, width: number) => {
  for (let i = at + width - 1; i >= at; i--) {
    isoText[i] = 48 + (n % 10);
    n = Math.floor(n / 10);
  }
};
let lastMs = Number.NaN;
let lastIso = "";
/** The second of the last answer and its text up to the milliseconds ("YYYY-MM-DDTHH:MM:SS."). */
let lastSecond = Number.NaN;
let secondText = "";
/** "000Z" … "999Z". */
const MILLIS = Array.from({ length: 1000 }, (_, i) => `${String(i).padStart(3, "0")}Z`);

/**
 * `new Date(ms).toISOString()` — which cost ≈ 1–3 µs a call here, three calls
 * per order — by arithmetic (days to civil date, H. Hinnant's algorithm) for
 * integer times from 1970 to 9999, with the last answer kept (orders within
 * one millisecond share it) and the last second's text (orders within one
 * second only add their milliseconds). Anything else goes to `toISOString`.
 */
export function isoTime(ms: number): string {
  if (ms === lastMs) return lastIso;
  let iso: string;
  if (Number.isInteger(ms) && ms >= 0 && ms < 253_402_300_800_000) {
    const milli = ms % 1000;
    const second = ms - milli;
    if (second !== lastSecond) {
      secondText = civilSecond(second);
      lastSecond = second;
    }
    iso = secondText + (MILLIS[milli] as string);
  } else iso = new Date(ms).toISOString();
  lastMs = ms;
  lastIso = iso;
  return iso;
}

/** "YYYY-MM-DDTHH:MM:SS." of a whole second (integer ms, 1970–9999). */
function civilSecond(ms: number): string {
  const days = Math.floor(ms / 86_400_000);
  let rest = ms - days * 86_400_000;
  const z = days + 719_468;
  const era = Math.floor(z / 146_097);
  const doe = z - era * 146_097;
  const yoe = Math.floor(
    (doe - Math.floor(doe / 1460) + Math.floor(doe / 36_524) - Math.floor(doe / 146_096)) / 365,
  );
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const day = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const month = mp < 10 ? mp + 3 : mp - 9;
  const year = yoe + era * 400 + (month <= 2 ? 1 : 0);
  const hour = Math.floor(rest / 3_600_000);
  rest -= hour * 3_600_000;
  const minute = Math.floor(rest / 60_000);
  rest -= minute * 60_000;
  // Digits written into a fixed "YYYY-MM-DDTHH:MM:SS." and read as one string.
  digitsAt(0, year, 4);
  digitsAt(5, month, 2);
  digitsAt(8, day, 2);
  digitsAt(11, hour, 2);
  digitsAt(14, minute, 2);
  digitsAt(17, rest / 1000, 2);
  return isoText.toString("latin1", 0, 20);
}

// ---------------------------------------------------------------- order events

const DECIMAL = /^(0|[1-9][0-9]*)(\.[0-9]+)?$/;
const CLIENT_ORDER_ID = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$/;
const ACCOUNT_ID = /^[a-z0-9][a-z0-9_-]{0,63}$/;
// The enums come from the schema itself, so a new value cannot be missed here.
const EVENT_TYPES: ReadonlySet<string> = new Set(OrderEvent.shape.type.options);
const SIDES: ReadonlySet<string> = new Set(Object.values(Side));
const ORD_TYPES: ReadonlySet<string> = new Set(Object.values(OrdType));
/** OrderEvent's keys in its schema's order (the order of the schema path's JSON). */
const EVENT_KEYS = [
  "id",
  "type",
  "ts",
  "account",
  "market",
  "client_order_id",
  "uuid",
  "side",
  "ord_type",
  "price",
  "volume",
  "executed_volume",
  "remaining_volume",
  "avg_price",
  "fill",
  "error",
] as const;
const EVENT_KEY_SET: ReadonlySet<string> = new Set(EVENT_KEYS);
/** The decimal keys with their JSON text `,"key":"`. */
const DECIMAL_KEYS: ReadonlyMap<string, string> = new Map(
  ["price", "volume", "executed_volume", "remaining_volume", "avg_price"].map((k) => [
    k,
    `,"${k}":"`,
  ]),
);

const digits = (s: string, from: number, to: number): number => {
  let n = 0;
  for (let i = from; i < to; i++) n = n * 10 + s.charCodeAt(i) - 48;
  return n;
};

/**
 * A valid IsoTime in `Date.prototype.toISOString`'s form (years 0000–9999,
 * milliseconds, `Z`): the shape by regex, then the calendar (month, day of
 * that month with leap years, hour, minute, second) by arithmetic.
 */
const validIsoTime = (v: unknown): v is string => {
  if (typeof v !== "string" || !ISO_MS.test(v)) return false;
  const year = digits(v, 0, 4);
  const month = digits(v, 5, 7);
  const day = digits(v, 8, 10);
  if (month < 1 || month > 12 || day < 1) return false;
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  const days =
    month === 2
      ? leap
        ? 29
        : 28
      : month === 4 || month === 6 || month === 9 || month === 11
        ? 30
        : 31;
  return (
    day <= days && digits(v, 11, 13) <= 23 && digits(v, 14, 16) <= 59 && digits(v, 17, 19) <= 59
  );
};

/**
 * `encodeMessage(OrderEvent, e)` by hand for the events order-exec publishes
 * per order (no `fill`); `undefined` when it cannot vouch (the schema path
 * then checks and encodes, or refuses with its own error).
 */
export function fastOrderEventBody(e: unknown): string | undefined {
  if (!isPlainObject(e)) return undefined;
  for (const k of Object.keys(e)) if (!EVENT_KEY_SET.has(k)) return undefined;
  const { id, type, ts, account, market } = e;
  if (
    typeof id !== "string" ||
    id.length === 0 ||
    typeof type !== "string" ||
    !EVENT_TYPES.has(type) ||
    !validIsoTime(ts) ||
    typeof account !== "string" ||
    !ACCOUNT_ID.test(account) ||
    typeof market !== "string" ||
    !isMarketCode(market)
  )
    return undefined;
  let out = `{"id":${str(id)},"type":"${type}","ts":"${ts}","account":"${account}","market":${str(market)}`;
  for (let i = 5; i < EVENT_KEYS.length; i++) {
    const k = EVENT_KEYS[i] as string;
    const v = e[k];
    if (v === undefined) continue;
    if (k === "client_order_id") {
      if (typeof v !== "string" || !CLIENT_ORDER_ID.test(v)) return undefined;
      out += `,"client_order_id":"${v}"`;
    } else if (k === "uuid") {
      if (typeof v !== "string") return undefined;
      out += `,"uuid":${str(v)}`;
    } else if (k === "side") {
      if (typeof v !== "string" || !SIDES.has(v)) return undefined;
      out += `,"side":"${v}"`;
    } else if (k === "ord_type") {
      if (typeof v !== "string" || !ORD_TYPES.has(v)) return undefined;
      out += `,"ord_type":"${v}"`;
    } else if (DECIMAL_KEYS.has(k)) {
      if (typeof v !== "string" || !DECIMAL.test(v)) return undefined;
      out += `${DECIMAL_KEYS.get(k)}${v}"`;
    } else if (k === "error") {
      const body = errorBody(v);
      if (body === undefined) return undefined;
      out += `,"error":${body}`;
    } else return undefined; // fill: the schema path
  }
  return `${out}}`;
}

/** OrderErrorBody (strict: code, message, exchange_error?) by hand. */
function errorBody(v: unknown): string | undefined {
  if (!isPlainObject(v)) return undefined;
  for (const k of Object.keys(v))
    if (k !== "code" && k !== "message" && k !== "exchange_error") return undefined;
  const { code, message, exchange_error } = v;
  if (typeof code !== "string" || typeof message !== "string") return undefined;
  let out = `{"code":${str(code)},"message":${str(message)}`;
  if (exchange_error !== undefined) {
    if (typeof exchange_error !== "string") return undefined;
    out += `,"exchange_error":${str(exchange_error)}`;
  }
  return `${out}}`;
}

/** The order event's JSON: by hand when {@link fastOrderEventBody} vouches, the schema path otherwise. */
export function encodeOrderEvent(e: OrderEvent, subject: string): string {
  return fastOrderEventBody(e) ?? encodeMessage(OrderEvent, e, subject);
}
