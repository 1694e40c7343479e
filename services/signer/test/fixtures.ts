/** Test-time keys and files; nothing here is ever committed with real values. */
import { createHmac, generateKeyPairSync, type KeyObject, randomBytes } from "node:crypto";
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { CallerEntry, KeyFile, SignerSettings } from "../src/index.ts";

export interface CallerKeys {
  readonly privateKey: KeyObject;
  readonly privateJwk: Record<string, unknown>;
  readonly publicJwk: { kty: "OKP"; crv: "Ed25519"; x: string };
}

export function callerKeys(): CallerKeys {
  const { privateKey, publicKey } = generateKeyPairSync("ed25519");
  const pub = publicKey.export({ format: "jwk" }) as { x: string };
  return {
    privateKey,
    privateJwk: privateKey.export({ format: "jwk" }) as Record<string, unknown>,
    publicJwk: { kty: "OKP", crv: "Ed25519", x: pub.x },
  };
}

export function keyFile(overrides: Partial<KeyFile> = {}): KeyFile {
  return {
    key_id: "main",
    version: 1,
    access_key: `ak-${randomBytes(12).toString("hex")}`,
    secret_key: `sk-${randomBytes(24).toString("hex")}`,
    account: "main",
    scopes: ["view_accounts", "make_orders", "view_orders"],
    ...overrides,
  };
}

export interface TempDirs {
  readonly keysDir: string;
  readonly callersFile: string;
  readonly writeKey: (name: string, file: KeyFile, mode?: number) => string;
  readonly removeKey: (name: string) => void;
  readonly writeCallers: (callers: CallerEntry[]) => void;
  readonly cleanup: () => void;
}

export function tempDirs(): TempDirs {
  const root = mkdtempSync(join(tmpdir(), "signer-test-"));
  const keysDir = join(root, "keys");
  const callersFile = join(root, "callers.json");
  mkdirSync(keysDir, { mode: 0o700 });
  return {
    keysDir,
    callersFile,
    writeKey: (name, file, mode = 0o600) => {
      const path = join(keysDir, name);
      writeFileSync(path, JSON.stringify(file), { mode });
      chmodSync(path, mode);
      return path;
    },
    removeKey: (name) => rmSync(join(keysDir, name), { force: true }),
    writeCallers: (callers) =>
      writeFileSync(callersFile, JSON.stringify({ callers }), { mode: 0o644 }),
    cleanup: () => rmSync(root, { recursive: true, force: true }),
  };
}

/**
 * Signer settings for tests and benchmarks: HS512, a 60 s rotation grace,
 * files reloaded only when the test calls reload(); `overrides` for the rest.
 */
export function signerSettings(
  files: { readonly keysDir: string; readonly callersFile: string },
  overrides: Partial<SignerSettings> = {},
): SignerSettings {
  return {
    keysDir: files.keysDir,
    callersFile: files.callersFile,
    jwtAlg: "HS512",
    rotationGraceMs: 60_000,
    expiryWarnDays: 30,
    sessionTtlMs: 600_000,
    auditMaxInFlight: 1024,
    watchFiles: false,
    ...overrides,
  };
}

/**
 * A sign request's compact JWS as a caller with a session sends it: HS256
 * under the session's MAC key, `kid` = the session id (what the client builds).
 */
export function sessionJws(
  sid: string,
  macKey: Buffer | KeyObject,
  claims: Readonly<Record<string, unknown>>,
): string {
  const h = Buffer.from(JSON.stringify({ alg: "HS256", kid: sid })).toString("base64url");
  const p = Buffer.from(JSON.stringify(claims)).toString("base64url");
  return `${h}.${p}.${createHmac("sha256", macKey).update(`${h}.${p}`).digest("base64url")}`;
}
