/**
 * Key revocations kept in the KV bucket `control` (DESIGN.md), so that they
 * outlive a signer restart and reach replicas started later:
 * `signer.revoked.<key_id>` refuses every version of a key id,
 * `signer.revoked.<key_id>.v<N>` one version. The value is
 * {version?, at, by}. An operator lifts a revocation by deleting its entry.
 */
import { z } from "zod";

/** A key id as key files name it (keys.ts); also a valid NATS KV key token. */
export const KEY_ID = /^[a-z0-9][a-z0-9_-]{0,63}$/;
export const REVOKED_PREFIX = "signer.revoked.";
/** The watch filter for every revocation entry. */
export const REVOKED_FILTER = `${REVOKED_PREFIX}>`;

export const RevocationEntry = z.strictObject({
  version: z.number().int().min(1).optional(),
  at: z.iso.datetime({ offset: true }),
  by: z.string().min(1).max(128),
});
export type RevocationEntry = z.infer<typeof RevocationEntry>;

/** The KV key of a revocation (key id already checked against KEY_ID). */
export function revokedKey(keyId: string, version: number | undefined): string {
  return version === undefined
    ? `${REVOKED_PREFIX}${keyId}`
    : `${REVOKED_PREFIX}${keyId}.v${version}`;
}

export interface Revocation {
  readonly keyId: string;
  /** undefined: every version. */
  readonly version: number | undefined;
  /** Why the entry was read as "every version" although it may have meant less. */
  readonly unreadable?: string;
}

/**
 * What a revocation entry refuses. Fail closed: a value that does not parse,
 * or disagrees with its key name, refuses every version of the key id the
 * name starts with. undefined only when the name holds no key id at all.
 */
export function parseRevocation(kvKey: string, value: Uint8Array): Revocation | undefined {
  if (!kvKey.startsWith(REVOKED_PREFIX)) return undefined;
  const [keyId = "", suffix, ...rest] = kvKey.slice(REVOKED_PREFIX.length).split(".");
  if (keyId === "") return undefined;
  const all = (unreadable: string): Revocation => ({ keyId, version: undefined, unreadable });
  if (!KEY_ID.test(keyId)) return all("the key name holds no valid key id");
  const named = suffix === undefined ? undefined : /^v([1-9][0-9]{0,8})$/.exec(suffix);
  if (rest.length > 0 || (suffix !== undefined && named == null))
    return all("the key name is not signer.revoked.<key_id>[.v<N>]");
  const nameVersion = named == null ? undefined : Number(named[1]);
  let entry: RevocationEntry;
  try {
    entry = RevocationEntry.parse(JSON.parse(Buffer.from(value).toString("utf8")));
  } catch {
    return all("the value is not {version?, at, by}");
  }
  if (entry.version !== nameVersion) return all("the value's version differs from the key name");
  return { keyId, version: nameVersion };
}

export function revocationValue(
  version: number | undefined,
  atMs: number,
  by: string,
): RevocationEntry {
  return {
    ...(version === undefined ? {} : { version }),
    at: new Date(atMs).toISOString(),
    by,
  };
}
