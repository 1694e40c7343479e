/**
 * The caller's side of the signer (order-exec, the CLI): builds EdDSA-signed
 * requests, keeps a sealing session with every signer replica, and opens the
 * sealed grants. No bearer token crosses NATS in clear.
 */
import {
  createPrivateKey,
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
import { deriveSealKey, ephemeralX25519, open } from "./seal.ts";

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
}

const HEADER = Buffer.from(JSON.stringify({ alg: "EdDSA" })).toString("base64url");

export function createSignerClient(options: SignerClientOptions): SignerClient {
  const { nc, subjects, callerId } = options;
  const clock = options.clock ?? Date.now;
  const lifetime = Math.min(options.lifetimeS ?? 5, 10);
  const key: KeyObject =
    "asymmetricKeyType" in options.privateJwk
      ? (options.privateJwk as KeyObject)
      : createPrivateKey({ key: options.privateJwk as never, format: "jwk" });
  let current: Sessions | undefined;
  let opening: Promise<Sessions> | undefined;

  const jws = (claims: Record<string, unknown>): { jws: string; jti: string } => {
    const iat = Math.floor(clock() / 1000);
    const jti = randomUUID();
    const payload = Buffer.from(
      JSON.stringify({ iss: callerId, jti, iat, exp: iat + lifetime, ...claims }),
    ).toString("base64url");
    const input = `${HEADER}.${payload}`;
    return { jws: `${input}.${edSign(null, Buffer.from(input), key).toString("base64url")}`, jti };
  };

  const openSessions = async (): Promise<Sessions> => {
    const eph = ephemeralX25519();
    const sid = randomBytes(16).toString("base64url");
    const { jws: text } = jws({ typ: "session", sid, epk: eph.publicRaw });
    const replies = await nc.requestMany(subjects.signer.session, JSON.stringify({ jws: text }), {
      strategy: "stall",
      stall: options.sessionStallMs ?? 50,
      maxWait: options.timeoutMs ?? 5_000,
      headers: injectTraceContext(),
    });
    const keys = new Map<string, KeyObject>();
    let expiresAtMs = Number.POSITIVE_INFINITY;
    let refused: UplineError | undefined;
    for await (const m of replies) {
      const code = m.headers?.get(ERROR_HEADER);
      if (code) {
        const body = JSON.parse(Buffer.from(m.data).toString("utf8")) as { message?: string };
        refused = UplineError.fromWire({ code, message: body.message ?? code });
        continue;
      }
      if (m.data.length === 0) continue;
      const r = decodeMessage(SignerSessionReply, m.data, "signer session reply");
      if (r.sid !== sid) continue;
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
      expiresAtMs = Math.min(expiresAtMs, Date.parse(r.expires_at));
    }
    if (keys.size === 0)
      throw (
        refused ??
        new UplineError("BUS_NO_RESPONDERS", "no signer replica answered the session request")
      );
    return { sid, keys, expiresAtMs };
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
    const { jws: text, jti } = jws({
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
