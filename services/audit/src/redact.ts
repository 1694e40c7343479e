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
  const paths: string[] = [];
  // The path of the value being looked at, as segments: joined only on a hit,
  // so the common case (nothing to redact) builds no path strings.
  const at: (string | number)[] = [];
  const hit = () => {
    let path = "";
    for (const seg of at) {
      path += `/${typeof seg === "number" ? seg : seg.replace(/~/g, "~0").replace(/\//g, "~1")}`;
    }
    paths.push(path);
    return REDACTED;
  };
  const walk = (value: unknown, key: string | undefined, depth: number): unknown => {
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
    let changed = false;
    const entries = Object.entries(value);
    const results = new Array<unknown>(entries.length);
    for (let i = 0; i < entries.length; i++) {
      const [k, v] = entries[i] as [string, unknown];
      at.push(k);
      const r = walk(v, k, depth + 1);
      at.pop();
      if (r !== v) changed = true;
      results[i] = r;
    }
    if (!changed) return value;
    const out: Record<string, unknown> = {};
    for (let i = 0; i < entries.length; i++) out[(entries[i] as [string, unknown])[0]] = results[i];
    return out;
  };
  const result = walk(data, undefined, 0) as Record<string, unknown>;
  return { data: result, paths };
}
