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
import {
  createInbox,
  type Msg,
  type MsgHdrs,
  type NatsConnection,
  headers as natsHeaders,
  type Subscription,
} from "@nats-io/transport-node";
import { context, SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
import {
  busError,
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

const hasOwn = Object.prototype.hasOwnProperty;
const codePoints = (v: string) => [...v].length;

/** {@link SignReply} by hand (true exactly when the schema accepts; see hand-checks.test.ts). */
export function isSignReply(v: unknown): v is SignReply {
  if (v === null || typeof v !== "object" || Array.isArray(v)) return false;
  const r = v as Record<string, unknown>;
  let n = 0;
  for (const k in r) {
    if (!hasOwn.call(r, k) || (k !== "replica" && k !== "sealed")) return false;
    n++;
  }
  return (
    n === 2 &&
    typeof r.replica === "string" &&
    r.replica.length >= 1 &&
    (r.replica.length <= 64 || codePoints(r.replica) <= 64) &&
    typeof r.sealed === "string" &&
    r.sealed.length >= 1
  );
}

const GRANT_KEYS = new Set(["authorization", "query", "url_query", "body"]);
/** {@link SignGrant} by hand (true exactly when the schema accepts; see hand-checks.test.ts). */
export function isSignGrant(v: unknown): v is SignGrant {
  if (v === null || typeof v !== "object" || Array.isArray(v)) return false;
  const g = v as Record<string, unknown>;
  for (const k in g) {
    if (!hasOwn.call(g, k) || !GRANT_KEYS.has(k)) return false;
    if (typeof g[k] !== "string") return false;
  }
  return typeof g.authorization === "string" && g.authorization.length >= 1;
}

const decoder = new TextDecoder();
const NO_TRACE = "0".repeat(32);
const tracer = trace.getTracer("@upline/signer");

/**
 * Request-reply for `signer.v1.sign` without nats.js's per-request objects
 * (request, timer, stack-capturing error): one wildcard inbox subscription,
 * a map of pending replies, one sweeper for timeouts. Errors are the same
 * typed errors as `request()` (BUS_TIMEOUT, BUS_NO_RESPONDERS, BUS_UNAVAILABLE,
 * the signer's own code from the error header).
 */
function createRequester(nc: NatsConnection, timeoutMs: number) {
  interface Pending {
    readonly resolve: (m: Msg) => void;
    readonly reject: (e: UplineError) => void;
    readonly deadline: number;
    readonly subject: string;
  }
  const prefix = createInbox((nc as { options?: { inboxPrefix?: string } }).options?.inboxPrefix);
  const pending = new Map<number, Pending>();
  let next = 0;
  let sub: Subscription | undefined;
  let sweeper: NodeJS.Timeout | undefined;

  const failAll = (err: () => UplineError) => {
    for (const [id, p] of pending) {
      pending.delete(id);
      p.reject(err());
    }
  };
  const onReply = (m: Msg) => {
    const id = Number(m.subject.slice(prefix.length + 1));
    const p = pending.get(id);
    if (p === undefined) return; // timed out already
    pending.delete(id);
    if (m.headers?.code === 503) {
      p.reject(
        new UplineError("BUS_NO_RESPONDERS", `request ${p.subject}: no service is listening`),
      );
      return;
    }
    p.resolve(m);
  };
  const listen = () => {
    if (sub !== undefined && !sub.isClosed()) return;
    sub = nc.subscribe(`${prefix}.*`, { callback: (_e, m) => onReply(m) });
    clearInterval(sweeper);
    sweeper = setInterval(
      () => {
        const now = Date.now();
        // Insertion order is deadline order: stop at the first live entry.
        for (const [id, p] of pending) {
          if (p.deadline > now) break;
          pending.delete(id);
          p.reject(new UplineError("BUS_TIMEOUT", `request ${p.subject}: timed out`));
        }
        if (nc.isClosed()) {
          failAll(() => new UplineError("BUS_UNAVAILABLE", "the connection is closed"));
          clearInterval(sweeper);
        }
      },
      Math.max(10, Math.min(250, timeoutMs / 4)),
    );
    sweeper.unref();
    void nc
      .closed()
      .then(() => failAll(() => new UplineError("BUS_UNAVAILABLE", "the connection is closed")));
  };

  return (subject: string, body: string, headers: MsgHdrs | undefined): Promise<Msg> =>
    new Promise<Msg>((resolve, reject) => {
      try {
        listen();
        const id = next++;
        pending.set(id, { resolve, reject, deadline: Date.now() + timeoutMs, subject });
        const reply = `${prefix}.${id}`;
        nc.publish(subject, body, headers === undefined ? { reply } : { reply, headers });
      } catch (err) {
        reject(busError(err, `request ${subject}`));
      }
    });
}

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

  const requestSign = createRequester(nc, options.timeoutMs ?? 5_000);

  /** The sign request's JWS, built in one pass (claims in a fixed order). */
  const signJws = (args: SignArgs, s: Sessions): { jws: string; jti: string } => {
    const iat = Math.floor(clock() / 1000);
    const jti = randomUUID();
    const claims = {
      iss: callerId,
      jti,
      iat,
      exp: iat + lifetime,
      typ: "sign",
      sid: s.sid,
      key_id: args.keyId,
      key_version: args.keyVersion,
      method: args.method,
      path: args.path,
      params: args.params,
      body: args.body,
    };
    // JSON.stringify leaves out the undefined fields.
    const payload = Buffer.from(JSON.stringify(claims)).toString("base64url");
    if (!macRequests) {
      const input = `${HEADER}.${payload}`;
      return {
        jws: `${input}.${edSign(null, Buffer.from(input), key).toString("base64url")}`,
        jti,
      };
    }
    const input = `${s.macHeader}.${payload}`;
    return {
      // Two base64url segments and a dot: ASCII, so latin1 gives the UTF-8 bytes without a UTF-8 pass.
      jws: `${input}.${createHmac("sha256", s.macKey).update(input, "latin1").digest("base64url")}`,
      jti,
    };
  };

  const wireError = (code: string, data: Uint8Array): UplineError => {
    let message = code;
    try {
      const wire = JSON.parse(decoder.decode(data)) as { message?: unknown };
      if (typeof wire.message === "string") message = wire.message;
    } catch {}
    return UplineError.fromWire({ code, message });
  };
  const parsed = (data: Uint8Array): unknown => {
    try {
      return JSON.parse(decoder.decode(data));
    } catch {
      return undefined;
    }
  };
  const grantOf = (k: KeyObject, sealed: string, jti: string): SignGrant => {
    const grant: unknown = JSON.parse(open(k, sealed, jti));
    return isSignGrant(grant) ? grant : SignGrant.parse(grant);
  };
  const clientSpan = () =>
    // A CLIENT span per request as with request(): a no-op unless a tracing SDK is set up.
    tracer.startSpan("request signer.sign", {
      kind: SpanKind.CLIENT,
      attributes: {
        "messaging.system": "nats",
        "messaging.destination.name": subjects.signer.sign,
      },
    });

  /** One sign request on its own: `{jws}` → SignReply. */
  const exchangeOne = async (s: Sessions, text: string, jti: string): Promise<SignGrant> => {
    const span = clientSpan();
    try {
      // base64url and dots only: no JSON escaping needed.
      const m = await requestSign(
        subjects.signer.sign,
        `{"jws":"${text}"}`,
        // Trace context only when there is a trace (no empty header block per request).
        span.spanContext().traceId === NO_TRACE
          ? undefined
          : injectTraceContext(natsHeaders(), trace.setSpan(context.active(), span)),
      );
      const code = m.headers?.get(ERROR_HEADER);
      if (code) throw wireError(code, m.data);
      const raw = parsed(m.data);
      const reply = isSignReply(raw)
        ? raw
        : decodeMessage(SignReply, m.data, `reply from ${subjects.signer.sign}`);
      const k = s.keys.get(reply.replica);
      if (k === undefined)
        throw new UplineError("SIGNER_SESSION_UNKNOWN", `no session with replica ${reply.replica}`);
      return grantOf(k, reply.sealed, jti);
    } catch (err) {
      span.setStatus({ code: SpanStatusCode.ERROR, message: (err as UplineError).code });
      throw err;
    } finally {
      span.end();
    }
  };

  const built = (args: SignArgs, s: Sessions) => {
    const b = signJws(args, s);
    if (b.jws.length > 16_384)
      throw new UplineError("MESSAGE_INVALID", "sign request: the JWS exceeds 16384 characters");
    return b;
  };
  const signOnce = (args: SignArgs, s: Sessions): Promise<SignGrant> => {
    const b = built(args, s);
    return exchangeOne(s, b.jws, b.jti);
  };

  return {
    connect: async () => {
      await sessionsNow(true);
    },
    sign: async (args) => {
      // The common case without an await: the current sessions are good for a while yet.
      const s =
        current !== undefined && current.expiresAtMs - clock() > 30_000
          ? current
          : await sessionsNow(false);
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
