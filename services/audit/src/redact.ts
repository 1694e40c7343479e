/**
 * Redaction at ingestion, pure. Publishers are meant to redact before the bus
 * (`redactAuditData` in @upline/shared); this is the store's own guard. A value
 * that still looks like a secret is replaced by {@link REDACTED} and its path
 * is reported, so the service can raise an alarm: the publisher has a leak.
 */

/** What a redacted value is stored as. */
export const REDACTED = "[redacted]";

/** Keys under which any non-trivial string is treated as a secret. */
const SECRET_KEY =
  /(^|[_-])(secret|secret_?key|password|passwd|passphrase|token|access_?token|refresh_?token|authorization|bearer|jws|jwt|private_?key|api_?key|access_?key|seed|credentials?)$/i;
const SECRET_KEY_EXACT = /^(secret|password|token|authorization|bearer|jws|jwt|seed|apikey)$/i;
/** `Bearer <something>` anywhere in a string (already scrubbed forms excluded). */
const BEARER = /\bbearer\s+(?!\[redacted)[A-Za-z0-9._~+/=-]{8,}/i;
/** A compact JWS / JWT: three base64url parts, the first a JSON header. */
const COMPACT_JWS = /\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*/;
// Under a secret-ish key any string of 8 characters or more is a secret. (An
// earlier "long hex or base64 run" test was implied by that length and is gone.)
/** Markers earlier redaction leaves behind; these are not leaks. */
const ALREADY = /^\[redacted[^\]]*\]$/;

const MAX_DEPTH = 16;

export interface RedactionResult {
  readonly data: Record<string, unknown>;
  /** JSON-pointer-like paths of the values that were replaced (never the values). */
  readonly paths: readonly string[];
}

function secretKey(key: string): boolean {
  return SECRET_KEY_EXACT.test(key) || SECRET_KEY.test(key);
}

/** True when a string value looks like a secret by itself (whatever its key). */
export function looksLikeBearerOrJws(value: string): boolean {
  return BEARER.test(value) || COMPACT_JWS.test(value);
}

/**
 * Returns `data` with secret-looking values replaced, and where they were. The
 * input is not changed; when nothing is found the same object is returned.
 */
export function redactForStorage(data: Readonly<Record<string, unknown>>): RedactionResult {
  // One module-level walk (no closures or entry arrays per event: this runs
  // for every stored event); `at` is reset in case an earlier walk threw.
  at.length = 0;
  found = undefined;
  const result = walk(data, undefined, 0) as Record<string, unknown>;
  const paths = found ?? NONE;
  found = undefined;
  return { data: result, paths };
}

const NONE: readonly string[] = Object.freeze([]);
/** The path of the value being looked at, as segments: joined only on a hit. */
const at: (string | number)[] = [];
/** Paths replaced in the current walk (allocated on the first hit). */
let found: string[] | undefined;

function hit(): string {
  let path = "";
  for (const seg of at) {
    path += `/${typeof seg === "number" ? seg : seg.replace(/~/g, "~0").replace(/\//g, "~1")}`;
  }
  found ??= [];
  found.push(path);
  return REDACTED;
}

function walk(value: unknown, key: string | undefined, depth: number): unknown {
  if (typeof value === "string") {
    // Shorter than 8 characters nothing below can match (a bearer token or a
    // compact JWS is at least 15, a secret under a secret-ish key at least 8).
    if (value.length < 8 || ALREADY.test(value)) return value;
    if (looksLikeBearerOrJws(value)) return hit();
    if (key !== undefined && secretKey(key)) return hit();
    return value;
  }
  if (value === null || typeof value !== "object") return value;
  if (depth >= MAX_DEPTH) return value;
  if (Array.isArray(value)) {
    let out: unknown[] | undefined;
    for (let i = 0; i < value.length; i++) {
      const v: unknown = value[i];
      at.push(i);
      const r = walk(v, key, depth + 1);
      at.pop();
      if (r !== v && out === undefined) out = value.slice(0, i);
      out?.push(r);
    }
    return out ?? value;
  }
  // A copy is made only from the first replaced value on (the earlier values
  // are unchanged, so they are copied as they are, in the same key order).
  const obj = value as Record<string, unknown>;
  const keys = Object.keys(obj);
  let out: Record<string, unknown> | undefined;
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i] as string;
    const v = obj[k];
    at.push(k);
    const r = walk(v, k, depth + 1);
    at.pop();
    if (r !== v && out === undefined) {
      out = {};
      for (let j = 0; j < i; j++) out[keys[j] as string] = obj[keys[j] as string];
    }
    if (out !== undefined) out[k] = r;
  }
  return out ?? value;
}
