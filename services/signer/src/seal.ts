/**
 * Sealing sessions: a sign reply carries a bearer token, so it is encrypted to
 * the caller before it touches NATS. The caller opens a session by sending, in
 * an EdDSA-signed JWS, an ephemeral X25519 public key; every replica answers
 * with its own ephemeral key; both sides derive an AES-256-GCM key with HKDF.
 * Replies are sealed with the request's jti as associated data.
 */
import {
  createCipheriv,
  createDecipheriv,
  createPublicKey,
  createSecretKey,
  diffieHellman,
  generateKeyPairSync,
  hkdfSync,
  type KeyObject,
  randomBytes,
} from "node:crypto";

const INFO = "upline-signer-seal-v1";

export interface EphemeralKey {
  readonly privateKey: KeyObject;
  /** base64url of the raw 32-byte public key. */
  readonly publicRaw: string;
}

export function ephemeralX25519(): EphemeralKey {
  const { privateKey, publicKey } = generateKeyPairSync("x25519");
  const jwk = publicKey.export({ format: "jwk" }) as { x: string };
  return { privateKey, publicRaw: jwk.x };
}

export function x25519Public(raw: string): KeyObject {
  return createPublicKey({ key: { kty: "OKP", crv: "X25519", x: raw }, format: "jwk" });
}

/** Both sides call this with the same (sid, caller, replica, caller epk, replica epk). */
export function deriveSealKey(
  own: KeyObject,
  peerRaw: string,
  ctx: { sid: string; caller: string; replica: string; callerEpk: string; replicaEpk: string },
): KeyObject {
  const shared = diffieHellman({ privateKey: own, publicKey: x25519Public(peerRaw) });
  const info = `${INFO}|${ctx.caller}|${ctx.replica}|${ctx.callerEpk}|${ctx.replicaEpk}`;
  return createSecretKey(Buffer.from(hkdfSync("sha256", shared, ctx.sid, info, 32)));
}

// IVs from one CSPRNG call per 341 replies; each byte is used once.
let ivPool = Buffer.alloc(0);
let ivAt = 0;

export function seal(key: KeyObject, plaintext: string, aad: string): string {
  if (ivAt + 12 > ivPool.length) {
    ivPool = randomBytes(4092);
    ivAt = 0;
  }
  // A view, not a copy: a spent pool is replaced, never overwritten.
  const iv = ivPool.subarray(ivAt, ivAt + 12);
  ivAt += 12;
  const c = createCipheriv("aes-256-gcm", key, iv);
  c.setAAD(Buffer.from(aad));
  const ct = c.update(plaintext, "utf8");
  c.final(); // nothing more for GCM: it is a stream mode
  return Buffer.concat([iv, ct, c.getAuthTag()], 28 + ct.length).toString("base64url");
}

/** Throws when the box was not sealed with this key and aad. */
export function open(key: KeyObject, sealed: string, aad: string): string {
  const buf = Buffer.from(sealed, "base64url");
  if (buf.length < 12 + 16) throw new Error("sealed reply too short");
  const d = createDecipheriv("aes-256-gcm", key, buf.subarray(0, 12));
  d.setAAD(Buffer.from(aad));
  d.setAuthTag(buf.subarray(buf.length - 16));
  const text = d.update(buf.subarray(12, buf.length - 16));
  // final() checks the tag (throws on a mismatch); for GCM it adds no bytes.
  const rest = d.final();
  return (rest.length === 0 ? text : Buffer.concat([text, rest])).toString("utf8");
}

export interface Session {
  readonly sid: string;
  readonly caller: string;
  /** AES-256-GCM key sealing this replica's replies (and the caller's MAC key box). */
  readonly key: KeyObject;
  /** This replica's ephemeral public key, repeated when the MAC key is confirmed. */
  readonly epk: string;
  readonly expiresAtMs: number;
  /**
   * HMAC-SHA256 key of the session's sign requests (HS256 JWS, kid = sid):
   * chosen by the caller, sent sealed to every replica; unset until then.
   */
  readonly macKey?: KeyObject;
}

/** AAD of the sealed MAC key box sent to one replica: not a jti, so never a reply's AAD. */
export function macKeyAad(sid: string, replica: string): string {
  return `${INFO}|mac-key|${sid}|${replica}`;
}

/** Sessions of this replica, bounded per caller (oldest evicted) and by lifetime. */
export class SessionStore {
  #byId = new Map<string, Session>();
  readonly #perCaller: number;

  constructor(perCaller = 32) {
    this.#perCaller = perCaller;
  }

  add(session: Session, nowMs: number): void {
    this.#sweep(nowMs);
    const mine = [...this.#byId.values()].filter((s) => s.caller === session.caller);
    const oldest = mine[0];
    if (mine.length >= this.#perCaller && oldest)
      this.#byId.delete(`${oldest.caller}\u0000${oldest.sid}`);
    this.#byId.set(`${session.caller}\u0000${session.sid}`, session);
  }

  /** Sets the session's MAC key once; false when there is no such session or it has one. */
  setMacKey(caller: string, sid: string, macKey: KeyObject, nowMs: number): boolean {
    const s = this.get(caller, sid, nowMs);
    if (s === undefined || s.macKey !== undefined) return false;
    this.#byId.set(`${caller}\u0000${sid}`, { ...s, macKey });
    return true;
  }

  get(caller: string, sid: string, nowMs: number): Session | undefined {
    const s = this.#byId.get(`${caller}\u0000${sid}`);
    if (s === undefined || s.expiresAtMs <= nowMs) return undefined;
    return s;
  }

  /** Forgets every session of a caller (its policy or key changed). */
  dropCaller(caller: string): void {
    for (const [k, s] of this.#byId) if (s.caller === caller) this.#byId.delete(k);
  }

  get size(): number {
    return this.#byId.size;
  }

  #sweep(nowMs: number): void {
    for (const [k, s] of this.#byId) if (s.expiresAtMs <= nowMs) this.#byId.delete(k);
  }
}
