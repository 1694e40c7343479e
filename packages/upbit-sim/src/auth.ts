/**
 * JWT verification as Upbit does it, from the wire: the canonical query string
 * is rebuilt from the raw request (not from a client library), hashed with
 * SHA-512 and compared with the token's query_hash.
 */
import {
  createHash,
  createHmac,
  createSecretKey,
  type KeyObject,
  timingSafeEqual,
} from "node:crypto";
import type { Scope } from "./types.ts";

export const AuthError = {
  NoToken: "no_authorization_token",
  InvalidAccessKey: "invalid_access_key",
  ExpiredAccessKey: "expired_access_key",
  NoIp: "no_authorization_ip",
  Jwt: "jwt_verification",
  NonceUsed: "nonce_used",
  QueryPayload: "invalid_query_payload",
  OutOfScope: "out_of_scope",
} as const;
export type AuthError = (typeof AuthError)[keyof typeof AuthError];

export const AUTH_MESSAGES: Readonly<Record<AuthError, string>> = {
  no_authorization_token: "Authorization token is missing.",
  invalid_access_key: "잘못된 엑세스 키입니다.",
  expired_access_key: "This key has expired.",
  no_authorization_ip: "This is not a verified IP.",
  jwt_verification: "Jwt 토큰 검증에 실패했습니다.",
  nonce_used: "This temporary number has already been used.",
  invalid_query_payload: "Failed to verify the query of Jwt.",
  out_of_scope: "권한이 부족합니다.",
};

export interface KeyRecord {
  readonly accessKey: string;
  readonly secret: KeyObject;
  readonly scopes: ReadonlySet<string>;
  readonly allowedIps: ReadonlySet<string> | null;
  readonly notAfter: number | null;
}

export function keyRecord(input: {
  accessKey: string;
  secretKey: string;
  scopes?: readonly Scope[] | undefined;
  allowedIps?: readonly string[] | undefined;
  notAfter?: number | string | undefined;
}): KeyRecord {
  const all = [
    "view_accounts",
    "make_orders",
    "view_orders",
    "withdraw",
    "view_withdrawals",
    "deposit",
    "view_deposits",
  ];
  return {
    accessKey: input.accessKey,
    secret: createSecretKey(Buffer.from(input.secretKey, "utf8")),
    scopes: new Set(input.scopes ?? all),
    allowedIps: input.allowedIps ? new Set(input.allowedIps.map(normalizeIp)) : null,
    notAfter:
      input.notAfter === undefined
        ? null
        : typeof input.notAfter === "number"
          ? input.notAfter
          : Date.parse(input.notAfter),
  };
}

export function normalizeIp(ip: string): string {
  return ip.startsWith("::ffff:") ? ip.slice(7) : ip;
}

/**
 * Remembers nonces per access key for at least `ttlMs` (two rotating generations,
 * so memory stays bounded and each check is O(1)).
 */
export class NonceStore {
  readonly #ttlMs: number;
  #current = new Set<string>();
  #previous = new Set<string>();
  #rotatedAt: number;

  constructor(ttlMs: number, now: number) {
    this.#ttlMs = ttlMs;
    this.#rotatedAt = now;
  }

  /** Records the nonce; false when it was seen before. */
  use(accessKey: string, nonce: string, now: number): boolean {
    if (now - this.#rotatedAt >= this.#ttlMs) {
      this.#previous = this.#current;
      this.#current = new Set();
      this.#rotatedAt = now;
    }
    const key = `${accessKey}\u0000${nonce}`;
    if (this.#current.has(key) || this.#previous.has(key)) return false;
    this.#current.add(key);
    return true;
  }

  clear(): void {
    this.#current.clear();
    this.#previous.clear();
  }
}

/** GET/DELETE: the raw query percent-decoded, parameters in request order. Throws URIError on bad encoding. */
export function canonicalQuery(rawQuery: string): string {
  return decodeURIComponent(rawQuery);
}

/** POST: `k=v&…` in JSON key order, values unencoded, nulls dropped, arrays as repeated keys. */
export function canonicalBody(body: Record<string, unknown>): string {
  const parts: string[] = [];
  for (const key of Object.keys(body)) {
    const value = body[key];
    if (value === null || value === undefined) continue;
    if (Array.isArray(value)) {
      for (const v of value) if (v !== null && v !== undefined) parts.push(`${key}=${String(v)}`);
    } else parts.push(`${key}=${String(value)}`);
  }
  return parts.join("&");
}

export function sha512Hex(s: string): string {
  return createHash("sha512").update(s).digest("hex");
}

export interface VerifyInput {
  readonly authorization: string | undefined;
  readonly clientIp: string;
  /** The canonical string of the request's parameters, "" when it has none. */
  readonly canonical: string;
  /** The permission the endpoint needs, or null. */
  readonly scope: string | null;
  readonly now: number;
}

export type VerifyResult =
  | { readonly ok: true; readonly key: KeyRecord }
  | { readonly ok: false; readonly error: AuthError };

const HS: Readonly<Record<string, string>> = { HS256: "sha256", HS512: "sha512" };

/** Verifies a Bearer JWT in the order of the fact sheet's checklist (7.1). */
export function verifyJwt(
  input: VerifyInput,
  lookup: (accessKey: string) => KeyRecord | undefined,
  nonces: NonceStore,
): VerifyResult {
  const auth = input.authorization;
  if (auth === undefined || auth === "") return fail(AuthError.NoToken);
  const token = auth.startsWith("Bearer ") ? auth.slice(7).trim() : auth.trim();
  const dot1 = token.indexOf(".");
  const dot2 = dot1 < 0 ? -1 : token.indexOf(".", dot1 + 1);
  if (dot1 < 0 || dot2 < 0 || token.indexOf(".", dot2 + 1) >= 0) return fail(AuthError.Jwt);
  const header = parseSegment(token.slice(0, dot1));
  const payload = parseSegment(token.slice(dot1 + 1, dot2));
  if (header === null || payload === null) return fail(AuthError.Jwt);
  const accessKey = payload.access_key;
  if (typeof accessKey !== "string") return fail(AuthError.InvalidAccessKey);
  const key = lookup(accessKey);
  if (key === undefined) return fail(AuthError.InvalidAccessKey);
  if (key.notAfter !== null && input.now > key.notAfter) return fail(AuthError.ExpiredAccessKey);
  if (key.allowedIps !== null && !key.allowedIps.has(normalizeIp(input.clientIp)))
    return fail(AuthError.NoIp);
  const hash = typeof header.alg === "string" ? HS[header.alg] : undefined;
  if (hash === undefined) return fail(AuthError.Jwt);
  const expected = createHmac(hash, key.secret).update(token.slice(0, dot2)).digest();
  const given = Buffer.from(token.slice(dot2 + 1), "base64url");
  if (given.length !== expected.length || !timingSafeEqual(given, expected))
    return fail(AuthError.Jwt);
  const nonce = payload.nonce;
  if (typeof nonce !== "string" && typeof nonce !== "number") return fail(AuthError.Jwt);
  if (!nonces.use(accessKey, String(nonce), input.now)) return fail(AuthError.NonceUsed);
  if (input.canonical !== "") {
    const alg = payload.query_hash_alg ?? "SHA512";
    if (alg !== "SHA512" || typeof payload.query_hash !== "string")
      return fail(AuthError.QueryPayload);
    if (payload.query_hash.toLowerCase() !== sha512Hex(input.canonical))
      return fail(AuthError.QueryPayload);
  }
  if (input.scope !== null && !key.scopes.has(input.scope)) return fail(AuthError.OutOfScope);
  return { ok: true, key };
}

function fail(error: AuthError): VerifyResult {
  return { ok: false, error };
}

function parseSegment(seg: string): Record<string, unknown> | null {
  try {
    const v: unknown = JSON.parse(Buffer.from(seg, "base64url").toString("utf8"));
    return typeof v === "object" && v !== null && !Array.isArray(v)
      ? (v as Record<string, unknown>)
      : null;
  } catch {
    return null;
  }
}

/** Signs an Upbit-style JWT (for tests, benchmarks and the README example). */
export function signJwt(
  accessKey: string,
  secretKey: string | KeyObject,
  canonical: string,
  alg: "HS256" | "HS512" = "HS512",
  nonce: string = crypto.randomUUID(),
): string {
  const payload: Record<string, string> = { access_key: accessKey, nonce };
  if (canonical !== "") {
    payload.query_hash = sha512Hex(canonical);
    payload.query_hash_alg = "SHA512";
  }
  const head = Buffer.from(JSON.stringify({ alg, typ: "JWT" })).toString("base64url");
  const body = Buffer.from(JSON.stringify(payload)).toString("base64url");
  const key =
    typeof secretKey === "string" ? createSecretKey(Buffer.from(secretKey, "utf8")) : secretKey;
  const sig = createHmac(alg === "HS256" ? "sha256" : "sha512", key)
    .update(`${head}.${body}`)
    .digest("base64url");
  return `${head}.${body}.${sig}`;
}
