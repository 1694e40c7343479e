/**
 * Upbit's canonical query string (upbit-api.md §1.2), built by the signer
 * itself from what the caller asked for. Pure; no I/O.
 *
 * GET/DELETE: ordered (key, value) pairs, hashed decoded in request order;
 * `key[]` repeats its key; comma lists stay one raw value. POST: JSON body keys
 * in body order, nulls dropped, arrays as repeated keys.
 */
import { hash } from "node:crypto";
import { deny } from "./errors.ts";

export type ParamPair = readonly [string, string];
export type BodyValue = string | number | boolean | null | readonly (string | number | boolean)[];

export interface CanonicalQuery {
  /** The decoded string that is hashed. */
  readonly hashed: string;
  /** The same query percent-encoded for the URL (brackets of `key[]` left raw). */
  readonly url: string;
}

export interface CanonicalBody {
  /** The `k=v&...` string that is hashed. */
  readonly hashed: string;
  /** The JSON text to send, byte for byte (same key order, nulls dropped). */
  readonly json: string;
}

const PARAM_KEY = /^[a-z][a-z0-9_]*(\[\])?$/;
// `&`, `#` would change the query's structure; control characters have no business here.
// biome-ignore lint/suspicious/noControlCharactersInRegex: the point is to refuse them
const BAD_VALUE = /[&#\u0000-\u001f\u007f]/;

function checkPair(key: string, value: string): void {
  if (!PARAM_KEY.test(key) || key.length > 64)
    throw deny("SIGNER_PARAMS_INVALID", `bad parameter name ${JSON.stringify(key.slice(0, 64))}`);
  if (value.length > 4096 || BAD_VALUE.test(value))
    throw deny(
      "SIGNER_PARAMS_INVALID",
      `parameter ${key} has a value that cannot be canonicalised`,
    );
}

function encodeValue(value: string): string {
  return encodeURIComponent(value);
}

/** Canonical form of ordered query pairs; throws SIGNER_PARAMS_INVALID. */
export function canonicalQuery(pairs: readonly ParamPair[]): CanonicalQuery {
  if (pairs.length > 256) throw deny("SIGNER_PARAMS_INVALID", "more than 256 parameters");
  const hashed: string[] = [];
  const url: string[] = [];
  for (const [key, value] of pairs) {
    checkPair(key, value);
    hashed.push(`${key}=${value}`);
    url.push(`${key}=${encodeValue(value)}`);
  }
  return { hashed: hashed.join("&"), url: url.join("&") };
}

/** Canonical form of a POST body; throws SIGNER_PARAMS_INVALID. */
export function canonicalBody(body: Readonly<Record<string, unknown>>): CanonicalBody {
  let fields = 0;
  for (const key in body) if (Object.hasOwn(body, key)) fields++;
  if (fields > 256) throw deny("SIGNER_PARAMS_INVALID", "more than 256 body fields");
  let hashed = "";
  let dropped = false;
  for (const key in body) {
    if (!Object.hasOwn(body, key)) continue;
    const value = body[key];
    if (value === null || value === undefined) {
      dropped = true;
      continue;
    }
    if (Array.isArray(value)) {
      for (const v of value as unknown[]) hashed = add(hashed, key, v);
    } else hashed = add(hashed, key, value);
  }
  // Nothing dropped: the body's own JSON is the JSON of the kept fields (same keys, same order).
  return { hashed, json: JSON.stringify(dropped ? kept(body) : body) };
}

function add(hashed: string, key: string, v: unknown): string {
  const text = scalar(key, v);
  checkPair(key, text);
  return hashed === "" ? `${key}=${text}` : `${hashed}&${key}=${text}`;
}

function kept(body: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(body))
    if (value !== null && value !== undefined) out[key] = value;
  return out;
}

function scalar(key: string, v: unknown): string {
  if (typeof v === "string") return v;
  if (typeof v === "boolean") return String(v);
  if (typeof v === "number" && Number.isFinite(v)) return JSON.stringify(v);
  throw deny(
    "SIGNER_PARAMS_INVALID",
    `body field ${key} must be a string, number, boolean or a list of them`,
  );
}

/** Lower-case hex SHA-512, as Upbit's query_hash. */
export function queryHash(hashed: string): string {
  return hash("sha512", hashed, "hex");
}

/** A short, non-reversible digest of the canonical params for audit events. */
export function paramsDigest(hashed: string): string {
  return hash("sha256", hashed, "hex").slice(0, 32);
}
