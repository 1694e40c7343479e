/**
 * The caller's side of the signer (order-exec, the CLI): builds EdDSA-signed
 * requests, keeps a sealing session with every signer replica, and opens the
 * sealed grants. No bearer token crosses NATS in clear.
 */
import {
  createHmac,
  createPrivateKey,
  createSecretKey,
  sign as edSign,
  type KeyObject,
  randomBytes,
  randomUUID,
} from "node:crypto";
import type { NatsConnection } from "@nats-io/transport-node";
import {
  decodeMessage,
  ERROR_HEADER,
  injectTraceContext,
  isUplineError,
  request,
  SignerSessionReply,
  SignGrant,
  SignReply,
  SignRequest,
  type Subjects,
  UplineError,
} from "@upline/shared";
import { AdminReply } from "./app.ts";
import type { BodyValue, ParamPair } from "./canonical.ts";
import type { Method } from "./policy.ts";
import type { AdminOp } from "./request.ts";
import { deriveSealKey, ephemeralX25519, macKeyAad, open, seal } from "./seal.ts";

export interface SignerClientOptions {
  readonly nc: NatsConnection;
  readonly subjects: Subjects;
  readonly callerId: string;
  /** The caller's Ed25519 private JWK ({kty:"OKP", crv:"Ed25519", x, d}) or KeyObject. */
  readonly privateJwk: Readonly<Record<string, unknown>> | KeyObject;
  readonly clock?: () => number;
  readonly timeoutMs?: number;
  /** Request lifetime (exp - iat), at most 10 s. */
  readonly lifetimeS?: number;
  /** How long to collect session replies from replicas after the last one. */
  readonly sessionStallMs?: number;
  /**
   * Authenticate sign requests with the session's MAC key (HS256 JWS, default)
   * instead of one Ed25519 signature per request. The handshake is EdDSA either way.
   */
  readonly macRequests?: boolean;
  /** Source of the session id and MAC key (tests); node:crypto randomBytes by default. */
  readonly randomBytes?: (size: number) => Buffer;
}

export interface SignArgs {
  readonly keyId: string;
  readonly keyVersion?: number;
  readonly method: Method;
  readonly path: string;
  readonly params?: readonly ParamPair[];
  readonly body?: Readonly<Record<string, BodyValue>>;
}

export interface SignerClient {
  /** Asks for a signed request; rejects with the signer's UplineError on denial. */
  readonly sign: (args: SignArgs) => Promise<SignGrant>;
  /** Operator requests (admin callers only). */
  readonly admin: (op: AdminOp, args?: { keyId?: string; version?: number }) => Promise<AdminReply>;
  /** Opens (or re-opens) the sealing session now. */
  readonly connect: () => Promise<void>;
}

interface Sessions {
  readonly sid: string;
  readonly keys: Map<string, KeyObject>;
  readonly expiresAtMs: number;
  /** base64url of {"alg":"HS256","kid":sid}. */
  readonly macHeader: string;
  readonly macKey: KeyObject;
}

const HEADER = Buffer.from(JSON.stringify({ alg: "EdDSA" })).toString("base64url");

export function createSignerClient(options: SignerClientOptions): SignerClient {
  const { nc, subjects, callerId } = options;
  const clock = options.clock ?? Date.now;
  const lifetime = Math.min(options.lifetimeS ?? 5, 10);
  const random = options.randomBytes ?? randomBytes;
  const macRequests = options.macRequests ?? true;
  const key: KeyObject =
    "asymmetricKeyType" in options.privateJwk
      ? (options.privateJwk as KeyObject)
      : createPrivateKey({ key: options.privateJwk as never, format: "jwk" });
  let current: Sessions | undefined;
  let opening: Promise<Sessions> | undefined;

  const claimsOf = (claims: Record<string, unknown>) => {
    const iat = Math.floor(clock() / 1000);
    const jti = randomUUID();
    const payload = Buffer.from(
      JSON.stringify({ iss: callerId, jti, iat, exp: iat + lifetime, ...claims }),
    ).toString("base64url");
    return { payload, jti };
  };

  const jws = (claims: Record<string, unknown>): { jws: string; jti: string } => {
    const { payload, jti } = claimsOf(claims);
    const input = `${HEADER}.${payload}`;
    return { jws: `${input}.${edSign(null, Buffer.from(input), key).toString("base64url")}`, jti };
  };

  const macJws = (s: Sessions, claims: Record<string, unknown>) => {
    const { payload, jti } = claimsOf(claims);
    const input = `${s.macHeader}.${payload}`;
    return {
      jws: `${input}.${createHmac("sha256", s.macKey).update(input).digest("base64url")}`,
      jti,
    };
  };

  /** Broadcasts an EdDSA-signed session message; the replies of every replica that answered. */
  const broadcast = async (
    claims: Record<string, unknown>,
    sid: string,
    expected?: number,
  ): Promise<{ replies: SignerSessionReply[]; refused: UplineError | undefined }> => {
    const { jws: text } = jws(claims);
    const it = await nc.requestMany(subjects.signer.session, JSON.stringify({ jws: text }), {
      ...(expected === undefined
        ? { strategy: "stall", stall: options.sessionStallMs ?? 50 }
        : { strategy: "count", maxMessages: expected }),
      maxWait: options.timeoutMs ?? 5_000,
      headers: injectTraceContext(),
    } as Parameters<NatsConnection["requestMany"]>[2]);
    const replies: SignerSessionReply[] = [];
    let refused: UplineError | undefined;
    for await (const m of it) {
      const code = m.headers?.get(ERROR_HEADER);
      if (code) {
        const body = JSON.parse(Buffer.from(m.data).toString("utf8")) as { message?: string };
        refused = UplineError.fromWire({ code, message: body.message ?? code });
        continue;
      }
      if (m.data.length === 0) continue;
      const r = decodeMessage(SignerSessionReply, m.data, "signer session reply");
      if (r.sid === sid) replies.push(r);
    }
    return { replies, refused };
  };

  /**
   * Two EdDSA-signed broadcasts: (1) X25519 with every replica → one seal key
   * each; (2) a fresh 32-byte MAC key, sealed for each replica under its seal
   * key. Sign requests are then HS256 JWS under the MAC key (kid = sid).
   */
  const openSessions = async (): Promise<Sessions> => {
    const eph = ephemeralX25519();
    const sid = random(16).toString("base64url");
    const first = await broadcast({ typ: "session", sid, epk: eph.publicRaw }, sid);
    const keys = new Map<string, KeyObject>();
    const epks = new Map<string, string>();
    for (const r of first.replies) {
      keys.set(
        r.replica,
        deriveSealKey(eph.privateKey, r.epk, {
          sid,
          caller: callerId,
          replica: r.replica,
          callerEpk: eph.publicRaw,
          replicaEpk: r.epk,
        }),
      );
      epks.set(r.replica, r.epk);
    }
    if (keys.size === 0)
      throw (
        first.refused ??
        new UplineError("BUS_NO_RESPONDERS", "no signer replica answered the session request")
      );
    const raw = random(32);
    const boxes: Record<string, string> = {};
    for (const [replica, k] of keys)
      boxes[replica] = seal(k, raw.toString("base64url"), macKeyAad(sid, replica));
    const macKey = createSecretKey(raw);
    raw.fill(0);
    const second = await broadcast({ typ: "session_key", sid, keys: boxes }, sid, keys.size);
    // Only replicas that confirmed the MAC key are usable; the others answer SESSION_UNKNOWN.
    const confirmed = new Map<string, KeyObject>();
    let expiresAtMs = Number.POSITIVE_INFINITY;
    for (const r of second.replies) {
      const k = keys.get(r.replica);
      if (k === undefined || epks.get(r.replica) !== r.epk) continue;
      confirmed.set(r.replica, k);
      expiresAtMs = Math.min(expiresAtMs, Date.parse(r.expires_at));
    }
    if (confirmed.size === 0)
      throw (
        second.refused ??
        new UplineError("BUS_NO_RESPONDERS", "no signer replica confirmed the session key")
      );
    const macHeader = Buffer.from(JSON.stringify({ alg: "HS256", kid: sid })).toString("base64url");
    return { sid, keys: confirmed, expiresAtMs, macHeader, macKey };
  };

  const sessionsNow = async (force: boolean): Promise<Sessions> => {
    // Renew a little before the signer forgets the session.
    if (!force && current !== undefined && current.expiresAtMs - clock() > 30_000) return current;
    opening ??= openSessions().finally(() => {
      opening = undefined;
    });
    current = await opening;
    return current;
  };

  const signOnce = async (args: SignArgs, s: Sessions): Promise<SignGrant> => {
    const { jws: text, jti } = (macRequests ? (c: Record<string, unknown>) => macJws(s, c) : jws)({
      typ: "sign",
      sid: s.sid,
      key_id: args.keyId,
      ...(args.keyVersion === undefined ? {} : { key_version: args.keyVersion }),
      method: args.method,
      path: args.path,
      ...(args.params === undefined ? {} : { params: args.params }),
      ...(args.body === undefined ? {} : { body: args.body }),
    });
    const reply = await request(
      nc,
      subjects.signer.sign,
      SignRequest,
      SignReply,
      { jws: text },
      {
        ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }),
        name: "signer.sign",
      },
    );
    const k = s.keys.get(reply.replica);
    if (k === undefined)
      throw new UplineError("SIGNER_SESSION_UNKNOWN", `no session with replica ${reply.replica}`);
    return SignGrant.parse(JSON.parse(open(k, reply.sealed, jti)));
  };

  return {
    connect: async () => {
      await sessionsNow(true);
    },
    sign: async (args) => {
      const s = await sessionsNow(false);
      try {
        return await signOnce(args, s);
      } catch (err) {
        // A replica that started after our handshake, or one that restarted: shake hands again once.
        if (!isUplineError(err, "SIGNER_SESSION_UNKNOWN")) throw err;
        return signOnce(args, await sessionsNow(true));
      }
    },
    admin: async (op, args = {}) => {
      const { jws: text } = jws({
        typ: "admin",
        op,
        ...(args.keyId === undefined ? {} : { key_id: args.keyId }),
        ...(args.version === undefined ? {} : { version: args.version }),
      });
      return request(
        nc,
        subjects.signer.admin(op),
        SignRequest,
        AdminReply,
        { jws: text },
        {
          ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }),
          name: `signer.admin.${op}`,
        },
      );
    },
  };
}
