/**
 * Signed checkpoints: `{seq, hash, time}` signed with Ed25519 (compact JWS,
 * alg EdDSA). A copy kept outside the database proves the log up to `seq` was
 * not rewritten later, even by someone who can recompute every hash.
 */
import { chmod, mkdir, readFile, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import { UplineError } from "@upline/shared";
import {
  CompactSign,
  type CryptoKey,
  calculateJwkThumbprint,
  compactVerify,
  exportJWK,
  generateKeyPair,
  importJWK,
  type JWK,
} from "jose";
import { canonicalJson } from "./chain.ts";

export interface CheckpointPayload {
  readonly seq: number;
  readonly hash: string;
  readonly time: string;
}

export interface SigningKey {
  readonly kid: string;
  readonly privateKey: CryptoKey | Uint8Array;
  /** The public half, stored beside each checkpoint and printed for pinning. */
  readonly publicJwk: JWK;
}

const TYP = "upline-audit-checkpoint+jws";

function isEd25519(jwk: JWK): boolean {
  return jwk.kty === "OKP" && jwk.crv === "Ed25519" && typeof jwk.x === "string";
}

export function publicPart(jwk: JWK): JWK {
  return { kty: jwk.kty, crv: jwk.crv, x: jwk.x };
}

/** Imports a private Ed25519 JWK; AUDIT_KEY_INVALID when it is not one. */
export async function importSigningKey(jwk: JWK): Promise<SigningKey> {
  if (!isEd25519(jwk) || typeof jwk.d !== "string") {
    throw new UplineError("AUDIT_KEY_INVALID", "the checkpoint key is not a private Ed25519 JWK");
  }
  const pub = publicPart(jwk);
  const kid = await calculateJwkThumbprint(pub);
  const privateKey = await importJWK({ ...jwk, alg: "EdDSA" }, "EdDSA");
  return { kid, privateKey, publicJwk: { ...pub, kid } };
}

export async function generateSigningJwk(): Promise<JWK> {
  const { privateKey } = await generateKeyPair("EdDSA", { crv: "Ed25519", extractable: true });
  return exportJWK(privateKey);
}

/**
 * Reads the key file, or, when `createIfMissing`, generates one there (mode
 * 0600). The key is never logged.
 */
export async function loadSigningKey(path: string, createIfMissing: boolean): Promise<SigningKey> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT" || !createIfMissing) {
      throw new UplineError("AUDIT_KEY_INVALID", `cannot read the checkpoint key file ${path}`, {
        cause: err,
      });
    }
    const jwk = await generateSigningJwk();
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, `${JSON.stringify(jwk)}\n`, { mode: 0o600, flag: "wx" }).catch(
      async (e: NodeJS.ErrnoException) => {
        if (e.code !== "EEXIST") throw e;
      },
    );
    await chmod(path, 0o600);
    text = await readFile(path, "utf8");
  }
  let jwk: JWK;
  try {
    jwk = JSON.parse(text) as JWK;
  } catch (err) {
    throw new UplineError("AUDIT_KEY_INVALID", `the checkpoint key file ${path} is not JSON`, {
      cause: err,
    });
  }
  return importSigningKey(jwk);
}

export async function signCheckpoint(key: SigningKey, payload: CheckpointPayload): Promise<string> {
  return new CompactSign(new TextEncoder().encode(canonicalJson(payload)))
    .setProtectedHeader({ alg: "EdDSA", kid: key.kid, typ: TYP })
    .sign(key.privateKey);
}

/** Verifies a checkpoint with a public JWK; throws AUDIT_CHAIN_BROKEN when it does not verify. */
export async function verifyCheckpoint(jws: string, publicJwk: JWK): Promise<CheckpointPayload> {
  if (!isEd25519(publicJwk)) {
    throw new UplineError("AUDIT_KEY_INVALID", "the checkpoint public key is not an Ed25519 JWK");
  }
  try {
    const key = await importJWK({ ...publicPart(publicJwk), alg: "EdDSA" }, "EdDSA");
    const { payload, protectedHeader } = await compactVerify(jws, key, { algorithms: ["EdDSA"] });
    if (protectedHeader.typ !== TYP) throw new Error(`unexpected typ ${protectedHeader.typ}`);
    const parsed = JSON.parse(new TextDecoder().decode(payload)) as CheckpointPayload;
    if (
      !Number.isSafeInteger(parsed.seq) ||
      typeof parsed.hash !== "string" ||
      typeof parsed.time !== "string"
    ) {
      throw new Error("malformed payload");
    }
    return parsed;
  } catch (err) {
    throw new UplineError(
      "AUDIT_CHAIN_BROKEN",
      `checkpoint signature does not verify: ${(err as Error).message}`,
      { cause: err },
    );
  }
}
