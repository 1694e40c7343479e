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
/** A long hex or base64 run: a key or secret when found under a secret-ish key. */
const LONG_OPAQUE = /^(?:[0-9a-fA-F]{32,}|[A-Za-z0-9+/_-]{32,}={0,2})$/;
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
  const walk = (value: unknown, path: string, key: string | undefined, depth: number): unknown => {
    if (typeof value === "string") {
      if (ALREADY.test(value)) return value;
      if (looksLikeBearerOrJws(value)) {
        paths.push(path);
        return REDACTED;
      }
      if (
        key !== undefined &&
        secretKey(key) &&
        (LONG_OPAQUE.test(value) || value.length >= 8) &&
        value.length > 0
      ) {
        paths.push(path);
        return REDACTED;
      }
      return value;
    }
    if (value === null || typeof value !== "object") return value;
    if (depth >= MAX_DEPTH) return value;
    if (Array.isArray(value)) {
      let changed = false;
      const out = value.map((v, i) => {
        const r = walk(v, `${path}/${i}`, key, depth + 1);
        if (r !== v) changed = true;
        return r;
      });
      return changed ? out : value;
    }
    let changed = false;
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      const r = walk(v, `${path}/${k.replace(/~/g, "~0").replace(/\//g, "~1")}`, k, depth + 1);
      if (r !== v) changed = true;
      out[k] = r;
    }
    return changed ? out : value;
  };
  const result = walk(data, "", undefined, 0) as Record<string, unknown>;
  return { data: result, paths };
}
