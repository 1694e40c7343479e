/**
 * Fast path for the one frame shape that dominates the feed: a single trade
 * object, SIMPLE or DEFAULT keys, as raw UTF-8 bytes. A fixed-shape scanner
 * reads only the fields a `Trade` needs, straight from the bytes — no text
 * decoding, no `sequential_id` quoting regex, no `JSON.parse` of all ~18
 * fields, no zod — and checks them by hand against the `Trade` schema.
 *
 * It is a fast path, not a second parser: it returns a `Trade` only when it is
 * sure the frame is a well-formed flat JSON object whose trade fields all pass
 * the schema; anything else (nested values, escapes, whitespace, a missing,
 * repeated, null or odd field, a value the schema refuses) returns `undefined`
 * and the caller uses `parseFrame`, which reports malformed frames. So a
 * malformed frame can never be accepted here, and when both accept a frame they
 * produce the same object (parse-fast.test.ts proves both on recorded,
 * generated and mutated frames).
 *
 * Field mapping mirrors parse.ts: SIMPLE `cd`, `ttms`, `tp`, `tv`, `ab`, `sid`;
 * DEFAULT `code`, `trade_timestamp`, `trade_price`, `trade_volume`, `ask_bid`,
 * `sequential_id` (the `??` fallbacks of parse.ts — `market`, `tms`,
 * `timestamp` — are left to the slow path). Numbers become the same decimal
 * strings as `decimalString(JSON.parse(…))`: a plain number with at most 15
 * significant digits and no trailing fractional zero is already the shortest
 * round-trip text of its double, so it is used as is; any other number goes
 * through `decimalString(Number(text))` exactly like the slow path.
 */
import type { Trade } from "@upline/shared";
import { decimalString } from "./decimal.ts";

// Slots of the fields the scanner keeps (SIMPLE, then DEFAULT).
const TY = 0;
const CD = 1;
const TTMS = 2;
const TP = 3;
const TV = 4;
const AB = 5;
const SID = 6;
const TYPE = 7;
const CODE = 8;
const TRADE_TIMESTAMP = 9;
const TRADE_PRICE = 10;
const TRADE_VOLUME = 11;
const ASK_BID = 12;
const SEQUENTIAL_ID = 13;
const SLOTS = 14;

// Value kinds.
const STR = 1;
const NUM = 2;
const LIT = 3;
// Number flags.
const MINUS = 1;
const FRAC = 2;
const EXP = 4;

const start = new Int32Array(SLOTS);
const end = new Int32Array(SLOTS);
const kind = new Int8Array(SLOTS);
const flags = new Int8Array(SLOTS);

const bytes = (s: string): Uint8Array => Uint8Array.from(s, (c) => c.charCodeAt(0));
const K_TRADE_TIMESTAMP = bytes("trade_timestamp");
const K_TRADE_PRICE = bytes("trade_price");
const K_TRADE_VOLUME = bytes("trade_volume");
const K_SEQUENTIAL_ID = bytes("sequential_id");
const K_ASK_BID = bytes("ask_bid");

function same(b: Uint8Array, s: number, key: Uint8Array): boolean {
  for (let i = 0; i < key.length; i++) if (b[s + i] !== key[i]) return false;
  return true;
}

/** The slot of a key (bytes s..s+len), or -1 for keys the scanner skips. */
function slotOf(b: Uint8Array, s: number, len: number): number {
  const c0 = b[s] as number;
  const c1 = b[s + 1] as number;
  switch (len) {
    case 2:
      if (c0 === 0x74 /* t */) {
        if (c1 === 0x79 /* y */) return TY;
        if (c1 === 0x70 /* p */) return TP;
        if (c1 === 0x76 /* v */) return TV;
        return -1;
      }
      if (c0 === 0x63 /* c */ && c1 === 0x64 /* d */) return CD;
      if (c0 === 0x61 /* a */ && c1 === 0x62 /* b */) return AB;
      return -1;
    case 3:
      return c0 === 0x73 && c1 === 0x69 && b[s + 2] === 0x64 ? SID : -1; // sid
    case 4:
      // ttms, type, code
      if (c0 === 0x74 && c1 === 0x74 && b[s + 2] === 0x6d && b[s + 3] === 0x73) return TTMS;
      if (c0 === 0x74 && c1 === 0x79 && b[s + 2] === 0x70 && b[s + 3] === 0x65) return TYPE;
      if (c0 === 0x63 && c1 === 0x6f && b[s + 2] === 0x64 && b[s + 3] === 0x65) return CODE;
      return -1;
    case 7:
      return same(b, s, K_ASK_BID) ? ASK_BID : -1;
    case 11:
      return same(b, s, K_TRADE_PRICE) ? TRADE_PRICE : -1;
    case 12:
      return same(b, s, K_TRADE_VOLUME) ? TRADE_VOLUME : -1;
    case 13:
      return same(b, s, K_SEQUENTIAL_ID) ? SEQUENTIAL_ID : -1;
    case 15:
      return same(b, s, K_TRADE_TIMESTAMP) ? TRADE_TIMESTAMP : -1;
    default:
      return -1;
  }
}

const isDigit = (c: number | undefined): boolean => c !== undefined && c >= 0x30 && c <= 0x39;

/**
 * Scans a JSON number at `i`; returns the index after it, or -1 when it is not
 * JSON's number grammar. Sets `numFlags`.
 */
let numFlags = 0;
function scanNumber(b: Uint8Array, i: number): number {
  let f = 0;
  if (b[i] === 0x2d /* - */) {
    f |= MINUS;
    i++;
  }
  if (b[i] === 0x30 /* 0 */) i++;
  else if (isDigit(b[i]) && b[i] !== 0x30) {
    i++;
    while (isDigit(b[i])) i++;
  } else return -1;
  if (b[i] === 0x2e /* . */) {
    f |= FRAC;
    i++;
    if (!isDigit(b[i])) return -1;
    while (isDigit(b[i])) i++;
  }
  if (b[i] === 0x65 || b[i] === 0x45 /* e E */) {
    f |= EXP;
    i++;
    if (b[i] === 0x2b || b[i] === 0x2d) i++;
    if (!isDigit(b[i])) return -1;
    while (isDigit(b[i])) i++;
  }
  numFlags = f;
  return i;
}

/** Literal `true` / `false` / `null` at `i`; the index after it, or -1. */
function scanLiteral(b: Uint8Array, i: number): number {
  const c = b[i];
  if (c === 0x74) return b[i + 1] === 0x72 && b[i + 2] === 0x75 && b[i + 3] === 0x65 ? i + 4 : -1;
  if (c === 0x66)
    return b[i + 1] === 0x61 && b[i + 2] === 0x6c && b[i + 3] === 0x73 && b[i + 4] === 0x65
      ? i + 5
      : -1;
  if (c === 0x6e) return b[i + 1] === 0x75 && b[i + 2] === 0x6c && b[i + 3] === 0x6c ? i + 4 : -1;
  return -1;
}

/** A plain string's end quote from `i` (just after the opening quote); -1 on an escape or control byte. */
function scanString(b: Uint8Array, i: number, n: number): number {
  for (; i < n; i++) {
    const c = b[i] as number;
    if (c === 0x22) return i;
    if (c === 0x5c || c < 0x20) return -1;
  }
  return -1;
}

// Buffer's own latin1 slice (what `toString("latin1", s, e)` calls, without its argument handling).
const latin1Slice = (
  Buffer.prototype as unknown as { latin1Slice: (s: number, e: number) => string }
).latin1Slice;
const latin1 = (b: Buffer, s: number, e: number): string => latin1Slice.call(b, s, e);

/**
 * Scans every key/value of a flat JSON object into the slots. False when the
 * bytes are not exactly one flat object without whitespace, escapes or
 * repeated trade keys.
 */
function scanObject(b: Uint8Array): number {
  const n = b.length;
  if (n < 2 || b[0] !== 0x7b /* { */) return -1;
  let seen = 0;
  let i = 1;
  for (;;) {
    if (b[i] !== 0x22) return -1;
    const ks = i + 1;
    const ke = scanString(b, ks, n);
    if (ke < 0 || b[ke + 1] !== 0x3a /* : */) return -1;
    const slot = slotOf(b, ks, ke - ks);
    i = ke + 2;
    const c = b[i];
    let vs = i;
    let ve: number;
    let k: number;
    if (c === 0x22) {
      vs = i + 1;
      ve = scanString(b, vs, n);
      if (ve < 0) return -1;
      i = ve + 1;
      k = STR;
    } else if (c === 0x2d || isDigit(c)) {
      ve = scanNumber(b, i);
      if (ve < 0) return -1;
      i = ve;
      k = NUM;
    } else {
      ve = scanLiteral(b, i);
      if (ve < 0) return -1; // objects, arrays, anything else: the slow path
      i = ve;
      k = LIT;
    }
    if (slot >= 0) {
      const bit = 1 << slot;
      if ((seen & bit) !== 0) return -1; // a repeated key: JSON.parse keeps the last; let it
      seen |= bit;
      start[slot] = vs;
      end[slot] = ve;
      kind[slot] = k;
      flags[slot] = k === NUM ? numFlags : 0;
    }
    const d = b[i];
    if (d === 0x2c /* , */) {
      i++;
      continue;
    }
    if (d === 0x7d /* } */ && i === n - 1) return seen;
    return -1;
  }
}

/** `[A-Z0-9]{2,10}-[A-Z0-9]{1,20}` on bytes (isMarketCode of @upline/shared). */
function isMarketBytes(b: Uint8Array, s: number, e: number): boolean {
  let dash = -1;
  for (let i = s; i < e; i++) {
    const c = b[i] as number;
    if (c === 0x2d) {
      if (dash >= 0) return false;
      dash = i;
    } else if (!((c >= 0x41 && c <= 0x5a) || (c >= 0x30 && c <= 0x39))) return false;
  }
  const left = dash - s;
  const right = e - dash - 1;
  return dash >= 0 && left >= 2 && left <= 10 && right >= 1 && right <= 20;
}

/** Epoch ms from a plain non-negative integer of ≤ 15 digits; -1 otherwise. */
function epochMs(b: Uint8Array, slot: number): number {
  if (kind[slot] !== NUM || flags[slot] !== 0) return -1;
  const s = start[slot] as number;
  const e = end[slot] as number;
  if (e - s > 15) return -1;
  let v = 0;
  for (let i = s; i < e; i++) v = v * 10 + ((b[i] as number) - 0x30);
  return v;
}

/** The decimal string of a non-negative JSON number; undefined for anything else. */
function decimal(b: Buffer, slot: number): string | undefined {
  if (kind[slot] !== NUM) return undefined;
  const f = flags[slot] as number;
  if ((f & MINUS) !== 0) return undefined;
  const s = start[slot] as number;
  const e = end[slot] as number;
  const text = latin1(b, s, e);
  if ((f & EXP) === 0 && ((f & FRAC) === 0 || b[e - 1] !== 0x30)) {
    // Count significant digits (from the first non-zero one, '.' excluded).
    let digits = 0;
    for (let i = s; i < e; i++) {
      const c = b[i] as number;
      if (c === 0x2e) continue;
      if (digits > 0 || c !== 0x30) digits++;
    }
    if (digits <= 15) return text;
  }
  const v = Number(text);
  if (!Number.isFinite(v)) return undefined;
  return decimalString(v);
}

/** A sequential_id: a plain non-negative integer number or a string of digits. */
function sequentialId(b: Buffer, slot: number): string | undefined {
  const k = kind[slot];
  const s = start[slot] as number;
  const e = end[slot] as number;
  if (k === NUM) return flags[slot] === 0 ? latin1(b, s, e) : undefined;
  if (k !== STR || e === s) return undefined;
  for (let i = s; i < e; i++) if (!isDigit(b[i])) return undefined;
  return latin1(b, s, e);
}

/** "BID" → "bid", "ASK" → "ask", else undefined. */
function sideOf(b: Uint8Array, slot: number): "bid" | "ask" | undefined {
  if (kind[slot] !== STR) return undefined;
  const s = start[slot] as number;
  if ((end[slot] as number) - s !== 3) return undefined;
  const c0 = b[s];
  const c1 = b[s + 1];
  const c2 = b[s + 2];
  if (c0 === 0x42 && c1 === 0x49 && c2 === 0x44) return "bid";
  if (c0 === 0x41 && c1 === 0x53 && c2 === 0x4b) return "ask";
  return undefined;
}

function isTradeString(b: Uint8Array, slot: number): boolean {
  const s = start[slot] as number;
  return (
    kind[slot] === STR &&
    (end[slot] as number) - s === 5 &&
    b[s] === 0x74 &&
    b[s + 1] === 0x72 &&
    b[s + 2] === 0x61 &&
    b[s + 3] === 0x64 &&
    b[s + 4] === 0x65
  );
}

const has = (seen: number, slot: number) => (seen & (1 << slot)) !== 0;

/**
 * The frame as a `Trade` when it is a single, well-formed SIMPLE or DEFAULT
 * trade object that passes the schema; `undefined` otherwise (use parseFrame).
 */
export function fastTrade(data: Buffer, receivedTs: number): Trade | undefined {
  if (!Number.isSafeInteger(receivedTs) || receivedTs < 0) return undefined;
  const seen = scanObject(data);
  if (seen < 0) return undefined;
  let fCode: number;
  let fTs: number;
  let fPrice: number;
  let fVolume: number;
  let fSide: number;
  let fSid: number;
  if (has(seen, TY)) {
    // SIMPLE (parse.ts: `ty` present decides the key style).
    if (!isTradeString(data, TY)) return undefined;
    fCode = CD;
    fTs = TTMS;
    fPrice = TP;
    fVolume = TV;
    fSide = AB;
    fSid = SID;
  } else if (has(seen, TYPE)) {
    if (!isTradeString(data, TYPE)) return undefined;
    fCode = CODE;
    fTs = TRADE_TIMESTAMP;
    fPrice = TRADE_PRICE;
    fVolume = TRADE_VOLUME;
    fSide = ASK_BID;
    fSid = SEQUENTIAL_ID;
  } else return undefined;
  if (
    !has(seen, fCode) ||
    !has(seen, fTs) ||
    !has(seen, fPrice) ||
    !has(seen, fVolume) ||
    !has(seen, fSide) ||
    !has(seen, fSid)
  )
    return undefined;
  if (kind[fCode] !== STR || !isMarketBytes(data, start[fCode] as number, end[fCode] as number))
    return undefined;
  const exchangeTs = epochMs(data, fTs);
  if (exchangeTs < 0) return undefined;
  const side = sideOf(data, fSide);
  if (side === undefined) return undefined;
  const price = decimal(data, fPrice);
  if (price === undefined) return undefined;
  const volume = decimal(data, fVolume);
  if (volume === undefined) return undefined;
  const sequentialIdText = sequentialId(data, fSid);
  if (sequentialIdText === undefined) return undefined;
  return {
    type: "trade",
    market: latin1(data, start[fCode] as number, end[fCode] as number),
    exchange_ts: exchangeTs,
    received_ts: receivedTs,
    price,
    volume,
    side,
    sequential_id: sequentialIdText,
  };
}

/**
 * A trade's bus JSON, byte for byte what `JSON.stringify(trade)` writes for a
 * schema-valid `Trade` (market code, decimals, side and id need no escaping),
 * without walking the object.
 */
export function tradeJson(t: Trade): string {
  return `{"type":"trade","market":"${t.market}","exchange_ts":${t.exchange_ts},"received_ts":${t.received_ts},"price":"${t.price}","volume":"${t.volume}","side":"${t.side}","sequential_id":"${t.sequential_id}"}`;
}
