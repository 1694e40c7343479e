/**
 * Exchange keys: one JSON file per key (and version) in SIGNER_KEYS_DIR, a
 * mounted secret. Secrets become KeyObjects at once; the parsed strings are
 * dropped. Files readable by group or others are refused.
 */
import { createSecretKey, type KeyObject } from "node:crypto";
import { readdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import type { UplineError } from "@upline/shared";
import { z } from "zod";
import { fileInvalid } from "./errors.ts";

const ENDPOINT = /^(GET|POST|DELETE|WS) \/[a-z0-9_/]+$/;

/** The content of one key file. */
export const KeyFile = z.strictObject({
  key_id: z.string().regex(/^[a-z0-9][a-z0-9_-]{0,63}$/),
  version: z.number().int().min(1).default(1),
  access_key: z.string().min(1).max(256),
  secret_key: z.string().min(1).max(1024),
  account: z.string().min(1).max(64),
  scopes: z.array(z.string().min(1).max(64)).max(32),
  not_after: z.iso.datetime({ offset: true }).optional(),
  /** Withdrawal, deposit and key-management endpoints this key may sign ("POST /v1/withdraws/coin"). */
  sensitive_endpoints: z.array(z.string().regex(ENDPOINT)).max(32).default([]),
});
export type KeyFile = z.input<typeof KeyFile>;

/** A loaded key version. `secret` never leaves this process in any form. */
export interface ExchangeKey {
  readonly keyId: string;
  readonly version: number;
  readonly accessKey: string;
  readonly secret: KeyObject;
  readonly account: string;
  readonly scopes: readonly string[];
  readonly notAfterMs: number | undefined;
  readonly sensitiveEndpoints: ReadonlySet<string>;
  readonly source: string;
}

export interface LoadResult {
  readonly keys: readonly ExchangeKey[];
  readonly problems: readonly UplineError[];
}

/** Parses one key file's content; the error names fields, never values. */
export function parseKeyFile(raw: unknown, source: string): ExchangeKey {
  const parsed = KeyFile.safeParse(raw);
  if (!parsed.success) {
    const fields = parsed.error.issues.map((i) => `${i.path.join(".") || "(file)"}: ${i.message}`);
    throw fileInvalid(source, `not a key file (${fields.slice(0, 5).join("; ")})`);
  }
  const f = parsed.data;
  return Object.freeze({
    keyId: f.key_id,
    version: f.version,
    accessKey: f.access_key,
    secret: createSecretKey(Buffer.from(f.secret_key, "utf8")),
    account: f.account,
    scopes: Object.freeze([...f.scopes]),
    notAfterMs: f.not_after === undefined ? undefined : Date.parse(f.not_after),
    sensitiveEndpoints: new Set(f.sensitive_endpoints),
    source,
  });
}

/** True when a file mode lets group or others read, write or execute it. */
export function modeTooOpen(mode: number): boolean {
  return (mode & 0o077) !== 0;
}

/**
 * Reads every `*.json` in the directory (following symlinks, as Kubernetes
 * secret mounts use them). A bad or too-open file is reported and skipped; the
 * others load.
 */
export async function loadKeyDir(dir: string): Promise<LoadResult> {
  const keys: ExchangeKey[] = [];
  const problems: UplineError[] = [];
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (err) {
    return { keys, problems: [fileInvalid(dir, "cannot read the keys directory", err)] };
  }
  for (const name of names.sort()) {
    if (name.startsWith(".") || !name.endsWith(".json")) continue;
    const path = join(dir, name);
    try {
      const st = await stat(path);
      if (!st.isFile()) continue;
      if (modeTooOpen(st.mode)) {
        problems.push(
          fileInvalid(
            path,
            `mode ${(st.mode & 0o777).toString(8).padStart(4, "0")} lets group or others access it; chmod 0600 (Kubernetes: defaultMode 0400)`,
          ),
        );
        continue;
      }
      let raw: unknown;
      try {
        raw = JSON.parse(await readFile(path, "utf8"));
      } catch {
        // The parser's message may quote the content: do not keep it.
        throw fileInvalid(path, "not valid JSON");
      }
      keys.push(parseKeyFile(raw, path));
    } catch (err) {
      problems.push(
        (err as UplineError).code === "SIGNER_KEY_FILE_INVALID"
          ? (err as UplineError)
          : fileInvalid(path, "cannot be read"),
      );
    }
  }
  return { keys, problems };
}

/** Development only: keys from a JSON array in the environment. */
export function loadKeysFromEnv(json: string): LoadResult {
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch {
    return { keys: [], problems: [fileInvalid("SIGNER_DEV_KEYS", "not valid JSON")] };
  }
  if (!Array.isArray(raw))
    return {
      keys: [],
      problems: [fileInvalid("SIGNER_DEV_KEYS", "must be a JSON array of key files")],
    };
  const keys: ExchangeKey[] = [];
  const problems: UplineError[] = [];
  raw.forEach((entry, i) => {
    try {
      keys.push(parseKeyFile(entry, `SIGNER_DEV_KEYS[${i}]`));
    } catch (err) {
      problems.push(err as UplineError);
    }
  });
  return { keys, problems };
}

export const KeyStatus = {
  Active: "active",
  Retiring: "retiring",
  Revoked: "revoked",
  Expired: "expired",
} as const;
export type KeyStatus = (typeof KeyStatus)[keyof typeof KeyStatus];

/** What an operator may see of a key: never the secret. */
export interface KeyInfo {
  readonly key_id: string;
  readonly version: number;
  readonly account: string;
  readonly access_key_prefix: string;
  readonly scopes: readonly string[];
  readonly status: KeyStatus;
  readonly not_after?: string;
  readonly retire_at?: string;
}

export interface KeyChange {
  readonly kind: "added" | "rotated" | "removed" | "retired";
  readonly keyId: string;
  readonly version: number;
}

export type KeyLookup =
  | { readonly ok: true; readonly key: ExchangeKey }
  | { readonly ok: false; readonly reason: string };

/**
 * The keys in force. The highest non-revoked version of a key id is active; an
 * older version still on disk is "retiring" until `graceMs` after it was
 * superseded (a request may pin it by version until then), then dropped.
 * A version no longer on disk, or revoked, is refused at once.
 */
export class KeyStore {
  #versions = new Map<string, ExchangeKey[]>();
  #active = new Map<string, ExchangeKey>();
  #supersededAt = new Map<string, number>();
  /** Refused "<key_id>@<version>" and "<key_id>@*", each with the sources that refuse it. */
  #revoked = new Map<string, Set<string>>();
  readonly #graceMs: number;

  constructor(graceMs: number) {
    this.#graceMs = graceMs;
  }

  /** Replaces the loaded set; returns what changed. */
  apply(keys: readonly ExchangeKey[], nowMs: number): KeyChange[] {
    const changes: KeyChange[] = [];
    const next = new Map<string, ExchangeKey[]>();
    for (const k of keys) {
      const list = next.get(k.keyId) ?? [];
      if (!list.some((x) => x.version === k.version)) list.push(k);
      next.set(k.keyId, list);
    }
    for (const [keyId, list] of this.#versions) {
      for (const k of list) {
        if (!next.get(keyId)?.some((x) => x.version === k.version))
          changes.push({ kind: "removed", keyId, version: k.version });
      }
    }
    const previousActive = new Map(this.#active);
    this.#versions = next;
    this.#recompute(nowMs);
    for (const [keyId, k] of this.#active) {
      const before = previousActive.get(keyId);
      if (before === undefined) changes.push({ kind: "added", keyId, version: k.version });
      else if (before.version !== k.version)
        changes.push({ kind: "rotated", keyId, version: k.version });
    }
    return changes;
  }

  /** Drops retiring versions whose grace has passed. */
  sweep(nowMs: number): KeyChange[] {
    const changes: KeyChange[] = [];
    for (const [keyId, list] of this.#versions) {
      const keep = list.filter((k) => {
        const at = this.#supersededAt.get(id(k));
        const gone = at !== undefined && nowMs >= at + this.#graceMs;
        if (gone) changes.push({ kind: "retired", keyId, version: k.version });
        return !gone;
      });
      this.#versions.set(keyId, keep);
    }
    return changes;
  }

  /**
   * Refuses a key id (every version) or one version, at once, also a version not
   * loaded yet. `source` names what refuses it (the admin op or a KV entry) so
   * that `unrevoke(source)` lifts only that. Returns the loaded versions refused.
   */
  revoke(
    keyId: string,
    version: number | undefined,
    nowMs: number,
    source = `${keyId}@${version ?? "*"}`,
  ): number {
    const list = this.#versions.get(keyId) ?? [];
    const member = `${keyId}@${version ?? "*"}`;
    const sources = this.#revoked.get(member) ?? new Set<string>();
    sources.add(source);
    this.#revoked.set(member, sources);
    this.#recompute(nowMs);
    return list.filter((k) => version === undefined || k.version === version).length;
  }

  /** Drops what `source` refused; a key stays refused while another source names it. */
  unrevoke(source: string, nowMs: number): boolean {
    let lifted = false;
    for (const [member, sources] of this.#revoked) {
      if (!sources.delete(source)) continue;
      lifted = true;
      if (sources.size === 0) this.#revoked.delete(member);
    }
    if (lifted) this.#recompute(nowMs);
    return lifted;
  }

  lookup(keyId: string, version: number | undefined, nowMs: number): KeyLookup {
    let key: ExchangeKey | undefined;
    if (version === undefined) key = this.#active.get(keyId);
    else {
      key = this.#versions.get(keyId)?.find((k) => k.version === version);
      if (
        key !== undefined &&
        this.#status(key, nowMs) !== "active" &&
        this.#status(key, nowMs) !== "retiring"
      )
        key = undefined;
    }
    if (key === undefined)
      return { ok: false, reason: `key ${keyId} is unknown, revoked or retired` };
    if (key.notAfterMs !== undefined && nowMs >= key.notAfterMs)
      return {
        ok: false,
        reason: `key ${keyId} expired at ${new Date(key.notAfterMs).toISOString()}`,
      };
    return { ok: true, key };
  }

  list(nowMs: number): KeyInfo[] {
    const out: KeyInfo[] = [];
    for (const list of this.#versions.values()) {
      for (const k of list) {
        const at = this.#supersededAt.get(id(k));
        out.push({
          key_id: k.keyId,
          version: k.version,
          account: k.account,
          access_key_prefix: `${k.accessKey.slice(0, 4)}…`,
          scopes: k.scopes,
          status: this.#status(k, nowMs),
          ...(k.notAfterMs === undefined
            ? {}
            : { not_after: new Date(k.notAfterMs).toISOString() }),
          ...(at === undefined ? {} : { retire_at: new Date(at + this.#graceMs).toISOString() }),
        });
      }
    }
    return out.sort((a, b) => a.key_id.localeCompare(b.key_id) || b.version - a.version);
  }

  /** Keys whose not_after falls within `withinMs` from now (or has passed). */
  expiring(nowMs: number, withinMs: number): ExchangeKey[] {
    return [...this.#active.values()].filter(
      (k) => k.notAfterMs !== undefined && k.notAfterMs - nowMs <= withinMs,
    );
  }

  get size(): number {
    return this.#active.size;
  }

  #status(k: ExchangeKey, nowMs: number): KeyStatus {
    if (this.#isRevoked(k)) return "revoked";
    if (k.notAfterMs !== undefined && nowMs >= k.notAfterMs) return "expired";
    return this.#active.get(k.keyId) === k ? "active" : "retiring";
  }

  #isRevoked(k: ExchangeKey): boolean {
    return this.#revoked.has(id(k)) || this.#revoked.has(`${k.keyId}@*`);
  }

  #recompute(nowMs: number): void {
    this.#active.clear();
    for (const [keyId, list] of this.#versions) {
      const live = list.filter((k) => !this.#isRevoked(k)).sort((a, b) => b.version - a.version);
      const top = live[0];
      if (top === undefined) continue;
      this.#active.set(keyId, top);
      for (const older of live.slice(1))
        if (!this.#supersededAt.has(id(older))) this.#supersededAt.set(id(older), nowMs);
    }
  }
}

function id(k: ExchangeKey): string {
  return `${k.keyId}@${k.version}`;
}
