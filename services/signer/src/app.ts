/**
 * The signer: authenticates callers, applies policy and the kill switch, signs
 * Upbit tokens with keys only this process holds, and seals every grant to its
 * caller. `buildSigner` does nothing until `start()`.
 */
import { createSecretKey, randomBytes } from "node:crypto";
import { type FSWatcher, watch } from "node:fs";
import { dirname } from "node:path";
import { jetstreamManager } from "@nats-io/jetstream";
import { type KV, Kvm, KvWatchInclude } from "@nats-io/kv";
import {
  type Msg,
  type NatsConnection,
  headers as natsHeaders,
  type Subscription,
} from "@nats-io/transport-node";
import { context, metrics, SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
import {
  type AuditPublisher,
  ControlState,
  createFastAuditPublisher,
  createJsPublisher,
  ERROR_HEADER,
  extractTraceContext,
  type JsPublisher,
  type Logger,
  type Server,
  SignerSessionReply,
  type SignReply,
  SignRequest,
  type Subjects,
  serve,
  type TradingState,
  UplineError,
} from "@upline/shared";
import { z } from "zod";
import { createAuditSink } from "./audit-sink.ts";
import { type CallerPolicy, loadCallersFile } from "./callers.ts";
import {
  type CanonicalBody,
  type CanonicalQuery,
  canonicalBody,
  canonicalQuery,
  paramsDigest,
} from "./canonical.ts";
import { deny } from "./errors.ts";
import { type KeyChange, KeyStore, type LoadResult, loadKeyDir, loadKeysFromEnv } from "./keys.ts";
import { checkPolicy, type SignIntent } from "./policy.ts";
import {
  AdminClaims,
  checkTimes,
  parseClaims,
  parseCompactJws,
  parseSignClaims,
  ReplayCache,
  SessionClaims,
  SessionKeyClaims,
  verifyEd25519,
  verifyHs256,
} from "./request.ts";
import {
  KEY_ID,
  parseRevocation,
  REVOKED_FILTER,
  REVOKED_PREFIX,
  revocationValue,
  revokedKey,
} from "./revocations.ts";
import {
  deriveSealKey,
  ephemeralX25519,
  macKeyAad,
  open,
  type Session,
  SessionStore,
  seal,
} from "./seal.ts";
import { createUpbitTokenSigner, type UpbitJwtAlg } from "./upbit-jwt.ts";

export interface SignerSettings {
  /** Directory of key files; unset only with `devKeysJson`. */
  readonly keysDir?: string | undefined;
  /** Development only: a JSON array of key files (SIGNER_DEV_KEYS). */
  readonly devKeysJson?: string | undefined;
  readonly callersFile: string;
  readonly jwtAlg: UpbitJwtAlg;
  readonly rotationGraceMs: number;
  readonly expiryWarnDays: number;
  readonly sessionTtlMs: number;
  readonly auditMaxInFlight: number;
  /** Reload on file changes (debounced); off in tests that call reload() themselves. */
  readonly watchFiles: boolean;
  readonly watchDebounceMs?: number;
}

export interface SignerDeps {
  readonly nc: NatsConnection;
  readonly subjects: Subjects;
  readonly logger: Logger;
  readonly settings: SignerSettings;
  readonly clock?: () => number;
  readonly audit?: AuditPublisher;
  readonly replicaId?: string;
}

export const AdminReply = z.strictObject({
  op: z.enum(["list", "reload", "revoke"]),
  replica: z.string(),
  keys: z
    .array(
      z.strictObject({
        key_id: z.string(),
        version: z.number(),
        account: z.string(),
        access_key_prefix: z.string(),
        scopes: z.array(z.string()),
        status: z.enum(["active", "retiring", "revoked", "expired"]),
        not_after: z.string().optional(),
        retire_at: z.string().optional(),
      }),
    )
    .optional(),
  revoked: z.number().optional(),
  problems: z.array(z.string()).optional(),
});
export type AdminReply = z.infer<typeof AdminReply>;

export interface ReloadResult {
  readonly changes: readonly KeyChange[];
  readonly problems: readonly string[];
}

export interface Signer {
  readonly replicaId: string;
  readonly start: () => Promise<void>;
  /** Not ready → drain intake → wait in-flight and audit acks → release watchers. Idempotent. */
  readonly stop: () => Promise<void>;
  /** Re-reads key and callers files (SIGHUP, file change, admin `reload`). */
  readonly reload: () => Promise<ReloadResult>;
  readonly ready: () => boolean;
  readonly detail: () => Record<string, unknown>;
  /** The handlers without NATS (benchmarks of the pipeline). */
  readonly handlers: {
    readonly sign: (req: SignRequest) => Promise<SignReply>;
    readonly session: (req: SignRequest) => Promise<SignerSessionReply>;
  };
}

const DAY_MS = 86_400_000;
const MAX_REQUEST_BYTES = 16_384;
/** Longest wait for the KV write of a revocation (it is applied locally first either way). */
const REVOKE_WRITE_TIMEOUT_MS = 2_000;
const GRANTED = Object.freeze({ decision: "granted", code: "OK" });
const decoder = new TextDecoder();

/**
 * The grant's JSON — `JSON.stringify` of {authorization: "Bearer <token>"[, body]
 * | [, query, url_query]} — written field by field. The token is base64url
 * segments and dots (upbit-jwt.ts builds nothing else), so it goes in as it is:
 * JSON.stringify scanning a 400-character token for characters to escape costs
 * more than the rest of the grant (hand-checks.test.ts holds the two equal).
 */
export function grantJson(
  token: string,
  canonical: CanonicalBody | CanonicalQuery | undefined,
): string {
  const auth = `{"authorization":"Bearer ${token}"`;
  if (canonical === undefined) return `${auth}}`;
  if ("json" in canonical) return `${auth},"body":${JSON.stringify(canonical.json)}}`;
  return `${auth},"query":${JSON.stringify(canonical.hashed)},"url_query":${JSON.stringify(canonical.url)}}`;
}

/** SignRequest by hand: a JSON object with exactly one key, `jws`, a string of 1..16384 chars. */
function decodeSignRequest(data: Uint8Array): SignRequest {
  let raw: unknown;
  try {
    raw = JSON.parse(decoder.decode(data));
  } catch (err) {
    throw new UplineError("MESSAGE_DECODE", "sign request: body is not valid JSON", { cause: err });
  }
  if (raw === null || typeof raw !== "object" || Array.isArray(raw))
    throw new UplineError("MESSAGE_INVALID", "sign request refused at receipt: not an object");
  const jws = (raw as { jws?: unknown }).jws;
  let keys = 0;
  for (const _ in raw) keys++;
  if (keys !== 1 || typeof jws !== "string" || jws.length < 1 || jws.length > 16_384)
    throw new UplineError(
      "MESSAGE_INVALID",
      "sign request refused at receipt: expected exactly {jws: string}",
    );
  return { jws };
}

export function buildSigner(deps: SignerDeps): Signer {
  const { nc, subjects, settings } = deps;
  const clock = deps.clock ?? Date.now;
  const log = deps.logger.child({ component: "signer" });
  const replicaId = deps.replicaId ?? `r-${randomBytes(4).toString("hex")}`;
  // Acks collected on one inbox (no js.publish per event); the sink keeps fail-closed.
  const jsp: JsPublisher | undefined =
    deps.audit === undefined
      ? createJsPublisher(nc, { maxOutstanding: settings.auditMaxInFlight + 64 })
      : undefined;
  const publisher =
    deps.audit ?? createFastAuditPublisher(jsp as JsPublisher, subjects, "signer", clock);
  const audit = createAuditSink(publisher, {
    maxInFlight: settings.auditMaxInFlight,
    logger: log,
    ...(jsp === undefined ? {} : { direct: { jsp, subjects, clock } }),
  });
  const keys = new KeyStore(settings.rotationGraceMs);
  const replay = new ReplayCache();
  const sessions = new SessionStore();
  const tokens = createUpbitTokenSigner(settings.jwtAlg);
  const meter = metrics.getMeter("@upline/signer");
  const decisions = meter.createCounter("signer.requests", {
    description: "sign decisions by code",
  });
  const expiryGauge = meter.createGauge("signer.key.days_to_expiry", {
    description: "days until a key's not_after",
  });
  let callers = new Map<string, CallerPolicy>();
  let trading: TradingState | undefined;
  let tradingRevision = 0;
  /** False until the revocations in KV `control` are read: nothing is granted before. */
  let revocationsKnown = false;
  /** The last revision applied per revocation entry (Infinity: revoked here, not persisted). */
  const revocationRevisions = new Map<string, number>();
  let controlKv: KV | undefined;
  let started = false;
  let stopping: Promise<void> | undefined;
  const servers: Server[] = [];
  const watchers: FSWatcher[] = [];
  let kvStop: (() => void) | undefined;
  let sweepTimer: NodeJS.Timeout | undefined;
  let debounce: NodeJS.Timeout | undefined;
  let reloading: Promise<ReloadResult> = Promise.resolve({ changes: [], problems: [] });

  // ------------------------------------------------------------ keys and callers

  const loadKeys = async (): Promise<LoadResult> => {
    const results: LoadResult[] = [];
    if (settings.keysDir !== undefined) results.push(await loadKeyDir(settings.keysDir));
    if (settings.devKeysJson !== undefined) results.push(loadKeysFromEnv(settings.devKeysJson));
    return {
      keys: results.flatMap((r) => r.keys),
      problems: results.flatMap((r) => r.problems),
    };
  };

  const reloadOnce = async (first: boolean): Promise<ReloadResult> => {
    const problems: UplineError[] = [];
    try {
      const next = await loadCallersFile(settings.callersFile);
      for (const [id, before] of callers) {
        const after = next.get(id);
        if (after === undefined || !after.publicKey.equals(before.publicKey))
          sessions.dropCaller(id);
      }
      callers = next;
    } catch (err) {
      if (first) throw err;
      problems.push(err as UplineError);
    }
    const loaded = await loadKeys();
    problems.push(...loaded.problems);
    const now = clock();
    const changes = keys.apply(loaded.keys, now);
    for (const p of problems) {
      log.error({ code: p.code, path: p.details?.path }, "refused: %s", p.message);
      audit.record({
        kind: "key",
        outcome: "error",
        data: { event: "refused", code: p.code, reason: p.message },
      });
    }
    for (const c of changes) {
      log.info({ key_id: c.keyId, version: c.version }, "key %s", c.kind);
      audit.record({
        kind: "key",
        outcome: "ok",
        data: { event: c.kind, key_id: c.keyId, version: c.version },
      });
    }
    warnExpiring(now);
    return { changes, problems: problems.map((p) => p.message) };
  };

  const reload = (): Promise<ReloadResult> => {
    reloading = reloading.catch(() => undefined).then(() => reloadOnce(false));
    return reloading;
  };

  const warnExpiring = (now: number) => {
    for (const k of keys.expiring(now, settings.expiryWarnDays * DAY_MS)) {
      const days = Math.floor(((k.notAfterMs as number) - now) / DAY_MS);
      const notAfter = new Date(k.notAfterMs as number).toISOString();
      log.warn(
        { key_id: k.keyId, version: k.version, not_after: notAfter, days_left: days },
        "key expires soon",
      );
      expiryGauge.record(days, { key_id: k.keyId });
      audit.record({
        kind: "key",
        outcome: "ok",
        data: {
          event: "expiring",
          key_id: k.keyId,
          version: k.version,
          not_after: notAfter,
          days_left: days,
        },
      });
    }
  };

  const scheduleReload = () => {
    clearTimeout(debounce);
    debounce = setTimeout(() => {
      reload().catch((err: unknown) => log.error({ err }, "reload failed"));
    }, settings.watchDebounceMs ?? 250);
    debounce.unref();
  };

  // ------------------------------------------------------------ kill switch

  const applyControl = (revision: number, value: Uint8Array | undefined, op: string) => {
    if (revision <= tradingRevision) return;
    tradingRevision = revision;
    if (op !== "PUT" || value === undefined) {
      trading = "active";
      return;
    }
    try {
      const parsed = ControlState.parse(JSON.parse(Buffer.from(value).toString("utf8")));
      trading = parsed.state;
    } catch (err) {
      // An unreadable kill switch must not mean "trade freely".
      log.error({ err }, "control state unreadable: treating as halted");
      trading = "halted";
    }
    log.info({ trading }, "trading state");
  };

  /**
   * A revocation entry (put, deleted or purged) in KV `control`. The source in
   * the key store is the entry's key, so deleting the entry lifts exactly it.
   */
  const applyRevocation = (
    kvKey: string,
    revision: number,
    value: Uint8Array | undefined,
    op: string,
  ) => {
    if (revision <= (revocationRevisions.get(kvKey) ?? 0)) return;
    revocationRevisions.set(kvKey, revision);
    const now = clock();
    if (op !== "PUT" || value === undefined) {
      if (!keys.unrevoke(kvKey, now)) return;
      log.warn({ entry: kvKey }, "revocation lifted: its entry was deleted from KV control");
      audit.record({ kind: "key", outcome: "ok", data: { event: "unrevoked", entry: kvKey } });
      return;
    }
    const r = parseRevocation(kvKey, value);
    if (r === undefined) {
      log.error({ entry: kvKey }, "revocation entry names no key id: ignored");
      return;
    }
    if (r.unreadable !== undefined)
      log.error(
        { entry: kvKey, key_id: r.keyId },
        "revocation entry unreadable (%s): every version of the key id is refused",
        r.unreadable,
      );
    keys.revoke(r.keyId, r.version, now, kvKey);
    log.info({ key_id: r.keyId, version: r.version, entry: kvKey }, "key revoked (KV control)");
  };

  const onControlEntry = (
    key: string,
    revision: number,
    value: Uint8Array | undefined,
    op: string,
  ) => {
    if (key === subjects.controlTradingKey) applyControl(revision, value, op);
    else if (key.startsWith(REVOKED_PREFIX)) applyRevocation(key, revision, value, op);
  };

  /**
   * One watch on KV `control` for the kill switch and the key revocations. The
   * current values are read before start() returns (it throws if they cannot be):
   * the watcher is opened first, so nothing written after the read is missed, and
   * revisions keep an older event from undoing a newer one.
   */
  const watchControl = async () => {
    const kv = await new Kvm(nc).open(subjects.buckets.control);
    controlKv = kv;
    // Every key of the bucket, dispatched by name: one filter subject (servers before 2.10
    // refuse several), and the bucket holds nothing else the signer may not read. Updates
    // only: what is there already is read below, before start() returns.
    const watcher = await kv.watch({ include: KvWatchInclude.UpdatesOnly });
    kvStop = () => watcher.stop();
    const first = await kv.get(subjects.controlTradingKey);
    if (first === null) {
      if (trading === undefined) trading = "active";
    } else applyControl(first.revision, first.value, first.operation);
    // The revocation keys from one stream-info request (no second consumer on the bucket).
    const stream = `KV_${subjects.buckets.control}`;
    const prefix = `$KV.${subjects.buckets.control}.`;
    const info = await (await jetstreamManager(nc)).streams.info(stream, {
      subjects_filter: `${prefix}${REVOKED_FILTER}`,
    });
    const names = Object.keys(info.state.subjects ?? {})
      .filter((subject) => subject.startsWith(prefix))
      .map((subject) => subject.slice(prefix.length));
    for (const k of names) {
      const e = await kv.get(k);
      if (e !== null) applyRevocation(k, e.revision, e.value, e.operation);
    }
    revocationsKnown = true;
    log.info({ revocations: names.length }, "revocations read from KV control");
    void (async () => {
      for await (const e of watcher) onControlEntry(e.key, e.revision, e.value, e.operation);
    })().catch((err: unknown) => log.error({ err }, "control watch ended"));
  };

  // ------------------------------------------------------------ requests

  /**
   * EdDSA under the caller's public key, or (sign requests only) HS256 under
   * the MAC key of the caller's session named by `kid`: a session is looked up
   * by (iss, kid), so a MAC key authenticates only the caller that set it.
   */
  const verifyCaller = (jwsText: string, now: number, allowMac: boolean) => {
    const jws = parseCompactJws(jwsText);
    const iss = jws.payload.iss;
    const caller = typeof iss === "string" ? callers.get(iss) : undefined;
    if (caller === undefined)
      throw deny("SIGNER_UNKNOWN_CALLER", "the issuer is not a known caller");
    let session: Session | undefined;
    if (allowMac && jws.header.alg === "HS256") {
      const kid = jws.header.kid;
      session = typeof kid === "string" ? sessions.get(caller.id, kid, now) : undefined;
      if (session?.macKey === undefined)
        throw deny("SIGNER_SESSION_UNKNOWN", "open a session with this replica first");
      verifyHs256(jws, session.macKey);
    } else verifyEd25519(jws, caller.publicKey);
    return { caller, payload: jws.payload, session };
  };

  const denied = (kind: string, err: unknown, data: Record<string, unknown>) => {
    const code = (err as UplineError).code ?? "INTERNAL";
    decisions.add(1, { decision: "denied", code });
    trace.getActiveSpan()?.setAttributes({ "signer.decision": "denied", "signer.code": code });
    audit.record({
      kind,
      outcome: "denied",
      ...(typeof data.caller === "string" ? { actor: data.caller } : {}),
      data: { ...data, decision: "denied", code },
    });
  };

  /** Synchronous on purpose: the audit publish and the reply leave in one socket write. */
  const signNow = (req: SignRequest): SignReply => {
    const now = clock();
    const data: Record<string, unknown> = {};
    try {
      const v = verifyCaller(req.jws, now, true);
      const caller = v.caller;
      data.caller = caller.id;
      const c = parseSignClaims(v.payload);
      data.key_id = c.key_id;
      data.method = c.method;
      data.path = c.path;
      if (v.session !== undefined && v.session.sid !== c.sid)
        throw deny("SIGNER_BAD_SIGNATURE", "kid and sid differ");
      checkTimes(c, now);
      const session = v.session ?? sessions.get(caller.id, c.sid, now);
      if (session === undefined)
        throw deny("SIGNER_SESSION_UNKNOWN", "open a session with this replica first");
      replay.check(caller.id, c.jti, c.exp * 1000, now);
      if (!caller.keys.has(c.key_id))
        throw deny(
          "SIGNER_KEY_NOT_ALLOWED",
          `key ${c.key_id} is not allowed for caller ${caller.id}`,
        );
      if (!revocationsKnown)
        throw deny("SIGNER_UNAVAILABLE", "the key revocations are not known yet");
      const found = keys.lookup(c.key_id, c.key_version, now);
      if (!found.ok) throw deny("SIGNER_KEY_NOT_ALLOWED", found.reason);
      if (trading === undefined)
        throw deny("SIGNER_UNAVAILABLE", "the kill-switch state is not known yet");
      const intent: SignIntent = { method: c.method, path: c.path, params: c.params, body: c.body };
      if (c.method === "WS" && (c.params !== undefined || c.body !== undefined))
        throw deny("SIGNER_PARAMS_INVALID", "a WebSocket token takes no params");
      const canonical =
        c.body !== undefined
          ? canonicalBody(c.body)
          : c.params !== undefined
            ? canonicalQuery(c.params)
            : undefined;
      if (canonical !== undefined) data.params_digest = paramsDigest(canonical.hashed);
      checkPolicy(intent, caller, found.key, trading);
      if (!audit.canGrant())
        throw deny("SIGNER_UNAVAILABLE", "audit is not acknowledging: refusing to grant");
      data.key_version = found.key.version;
      const token = tokens.sign(found.key.secret, found.key.accessKey, canonical?.hashed);
      const sealed = seal(session.key, grantJson(token, canonical), c.jti);
      decisions.add(1, GRANTED);
      trace.getActiveSpan()?.setAttributes({
        "signer.decision": "granted",
        "signer.caller": caller.id,
        "signer.key_id": c.key_id,
      });
      data.decision = "granted";
      data.code = null;
      audit.record({ kind: "sign", outcome: "ok", actor: caller.id, data });
      return { replica: replicaId, sealed };
    } catch (err) {
      denied("sign", err, data);
      throw err;
    }
  };

  const sign = async (req: SignRequest): Promise<SignReply> => signNow(req);

  const tracer = trace.getTracer("@upline/signer");
  const replicaJson = JSON.stringify(replicaId);
  const replyError = (msg: Msg, err: unknown) => {
    const typed =
      err instanceof UplineError
        ? err
        : new UplineError("INTERNAL", "the request could not be handled", { cause: err });
    if (typed.code === "INTERNAL") log.error({ err, subject: msg.subject }, "sign failed");
    const hdrs = natsHeaders();
    hdrs.set(ERROR_HEADER, typed.code);
    msg.respond(JSON.stringify(typed.toWire()), { headers: hdrs });
    return typed;
  };
  /** Answers one sign request; returns the error code of a refusal. */
  const handleSign = (msg: Msg): string | undefined => {
    try {
      if (msg.data.byteLength > MAX_REQUEST_BYTES)
        throw new UplineError(
          "MESSAGE_TOO_LARGE",
          `request of ${msg.data.byteLength} bytes exceeds ${MAX_REQUEST_BYTES}`,
        );
      const reply = signNow(decodeSignRequest(msg.data));
      // Both fields are ours (replica id, base64url): no escaping needed beyond JSON.stringify.
      // A Buffer (pooled allocation) rather than a string nats.js would TextEncoder.encode.
      msg.respond(Buffer.from(`{"replica":${replicaJson},"sealed":"${reply.sealed}"}`));
      return undefined;
    } catch (err) {
      return replyError(msg, err).code;
    }
  };
  /**
   * `signer.v1.sign` without `serve()`: the request is checked by hand (exactly
   * `{jws: string}`, as SignRequest), the handler runs synchronously, and a
   * SERVER span is made only when the caller sent a trace context.
   */
  const onSignMessage = (msg: Msg): void => {
    if (msg.headers?.get("traceparent")) {
      context.with(extractTraceContext(msg.headers), () =>
        tracer.startActiveSpan(
          "handle signer.sign",
          {
            kind: SpanKind.SERVER,
            attributes: { "messaging.system": "nats", "messaging.destination.name": msg.subject },
          },
          (span) => {
            const code = handleSign(msg);
            if (code !== undefined) span.setStatus({ code: SpanStatusCode.ERROR, message: code });
            span.end();
          },
        ),
      );
    } else handleSign(msg);
  };
  let signSub: Subscription | undefined;

  const session = async (req: SignRequest): Promise<SignerSessionReply> => {
    const now = clock();
    const data: Record<string, unknown> = {};
    try {
      const { caller, payload } = verifyCaller(req.jws, now, false);
      data.caller = caller.id;
      if (payload.typ === "session_key") return sessionKey(caller.id, payload, now);
      const c = parseClaims(SessionClaims, payload);
      checkTimes(c, now);
      replay.check(caller.id, c.jti, c.exp * 1000, now);
      const eph = ephemeralX25519();
      let key: ReturnType<typeof deriveSealKey>;
      try {
        key = deriveSealKey(eph.privateKey, c.epk, {
          sid: c.sid,
          caller: caller.id,
          replica: replicaId,
          callerEpk: c.epk,
          replicaEpk: eph.publicRaw,
        });
      } catch {
        throw deny("SIGNER_PARAMS_INVALID", "epk is not an X25519 public key");
      }
      const expiresAtMs = now + settings.sessionTtlMs;
      sessions.add({ sid: c.sid, caller: caller.id, key, epk: eph.publicRaw, expiresAtMs }, now);
      audit.record({
        kind: "session",
        outcome: "ok",
        actor: caller.id,
        data: { caller: caller.id, replica: replicaId },
      });
      return {
        replica: replicaId,
        sid: c.sid,
        epk: eph.publicRaw,
        expires_at: new Date(expiresAtMs).toISOString(),
      };
    } catch (err) {
      denied("session", err, data);
      throw err;
    }
  };

  /** Handshake step 2: the caller's MAC key for the session, sealed for this replica. */
  const sessionKey = (
    caller: string,
    payload: Readonly<Record<string, unknown>>,
    now: number,
  ): SignerSessionReply => {
    const c = parseClaims(SessionKeyClaims, payload);
    checkTimes(c, now);
    replay.check(caller, c.jti, c.exp * 1000, now);
    const s = sessions.get(caller, c.sid, now);
    const box = Object.hasOwn(c.keys, replicaId) ? c.keys[replicaId] : undefined;
    if (s === undefined || box === undefined)
      throw deny("SIGNER_SESSION_UNKNOWN", "no such session with this replica");
    let raw: Buffer;
    try {
      raw = Buffer.from(open(s.key, box, macKeyAad(c.sid, replicaId)), "base64url");
    } catch {
      throw deny("SIGNER_BAD_SIGNATURE", "the MAC key box does not open");
    }
    if (raw.length !== 32) throw deny("SIGNER_PARAMS_INVALID", "the MAC key must be 32 bytes");
    const macKey = createSecretKey(raw);
    raw.fill(0);
    if (!sessions.setMacKey(caller, c.sid, macKey, now))
      throw deny("SIGNER_PARAMS_INVALID", "the session already has a MAC key");
    audit.record({
      kind: "session",
      outcome: "ok",
      actor: caller,
      data: { caller, replica: replicaId, event: "mac_key" },
    });
    return {
      replica: replicaId,
      sid: c.sid,
      epk: s.epk,
      expires_at: new Date(s.expiresAtMs).toISOString(),
    };
  };

  /**
   * Refused here at once (before the KV write), then persisted in KV `control`
   * for restarts and replicas started later; every replica also gets the admin
   * request. Until the write is acknowledged, events of that entry are not
   * applied (an older delete must not undo it); if the write fails the key stays
   * refused here until a restart and the reply says it was not persisted.
   */
  const revoke = async (
    keyId: string,
    version: number | undefined,
    by: string,
    now: number,
  ): Promise<AdminReply> => {
    const kvKey = revokedKey(keyId, version);
    revocationRevisions.set(kvKey, Number.POSITIVE_INFINITY);
    const n = keys.revoke(keyId, version, now, kvKey);
    log.warn({ key_id: keyId, version, by }, "key revoked");
    const reply: AdminReply = { op: "revoke", replica: replicaId, revoked: n };
    try {
      if (controlKv === undefined) throw new Error("KV control is not open");
      // Bounded well inside an admin client's timeout (5 s by default), so the
      // caller hears "not persisted" instead of timing out.
      const revision = await controlKv.put(
        kvKey,
        JSON.stringify(revocationValue(version, now, by)),
        { timeout: REVOKE_WRITE_TIMEOUT_MS },
      );
      revocationRevisions.set(kvKey, revision);
      return reply;
    } catch (err) {
      // Refused here until a restart: a local source the KV entry cannot lift.
      keys.revoke(keyId, version, now, `local:${kvKey}`);
      log.error({ err, key_id: keyId, version }, "revocation not persisted in KV control");
      return {
        ...reply,
        problems: [
          `revoked on replica ${replicaId} until it restarts, but not persisted in KV control: repeat the revoke`,
        ],
      };
    }
  };

  const admin = async (req: SignRequest): Promise<AdminReply> => {
    const now = clock();
    const data: Record<string, unknown> = {};
    try {
      const { caller, payload } = verifyCaller(req.jws, now, false);
      data.caller = caller.id;
      if (!caller.admin) throw deny("SIGNER_NOT_ADMIN", `caller ${caller.id} is not an admin`);
      const c = parseClaims(AdminClaims, payload);
      Object.assign(data, { op: c.op, key_id: c.key_id, version: c.version });
      checkTimes(c, now);
      replay.check(caller.id, c.jti, c.exp * 1000, now);
      let reply: AdminReply;
      if (c.op === "list")
        reply = {
          op: c.op,
          replica: replicaId,
          keys: keys.list(now).map((k) => ({ ...k, scopes: [...k.scopes] })),
        };
      else if (c.op === "reload") {
        const r = await reload();
        reply = { op: c.op, replica: replicaId, problems: [...r.problems] };
      } else {
        if (c.key_id === undefined) throw deny("SIGNER_PARAMS_INVALID", "revoke needs key_id");
        if (!KEY_ID.test(c.key_id))
          throw deny("SIGNER_PARAMS_INVALID", "key_id is not a key id ([a-z0-9][a-z0-9_-]*)");
        reply = await revoke(c.key_id, c.version, caller.id, now);
        data.persisted = reply.problems === undefined;
      }
      audit.record({
        kind: "admin",
        outcome: "ok",
        actor: caller.id,
        data: { ...data, decision: "granted" },
      });
      return reply;
    } catch (err) {
      denied("admin", err, data);
      throw err;
    }
  };

  // ------------------------------------------------------------ lifecycle

  const start = async () => {
    if (started) return;
    started = true;
    await reloadOnce(true);
    await watchControl();
    const onError = () => undefined;
    signSub = nc.subscribe(subjects.signer.sign, {
      queue: subjects.signer.queue,
      callback: (_err, msg) => onSignMessage(msg),
    });
    servers.push(
      // No queue group: every replica keeps a session with each caller.
      serve(nc, {
        subject: subjects.signer.session,
        requestSchema: SignRequest,
        replySchema: SignerSessionReply,
        handler: session,
        logger: log,
        maxBytes: 16_384,
        onError,
        name: "signer.session",
      }),
      // No queue group: a reload or revoke reaches every replica.
      serve(nc, {
        subject: subjects.signer.adminAll,
        requestSchema: SignRequest,
        replySchema: AdminReply,
        handler: admin,
        logger: log,
        maxBytes: 16_384,
        onError,
        name: "signer.admin",
      }),
    );
    if (settings.watchFiles) {
      const targets = new Set<string>([dirname(settings.callersFile)]);
      if (settings.keysDir !== undefined) targets.add(settings.keysDir);
      for (const t of targets) {
        try {
          watchers.push(watch(t, { persistent: false }, scheduleReload));
        } catch (err) {
          log.warn({ err, path: t }, "cannot watch for changes; reload with SIGHUP");
        }
      }
    }
    sweepTimer = setInterval(() => {
      const now = clock();
      for (const c of keys.sweep(now)) {
        log.info({ key_id: c.keyId, version: c.version }, "key retired");
        audit.record({
          kind: "key",
          outcome: "ok",
          data: { event: "retired", key_id: c.keyId, version: c.version },
        });
      }
    }, 1000);
    sweepTimer.unref();
    const expiryTimer = setInterval(() => warnExpiring(clock()), 12 * 3600_000);
    expiryTimer.unref();
    watchers.push({ close: () => clearInterval(expiryTimer) } as unknown as FSWatcher);
    log.info({ replica: replicaId, keys: keys.size, callers: callers.size }, "signer serving");
  };

  const stop = () => {
    stopping ??= (async () => {
      started = false;
      // Handlers run synchronously: once drained, nothing of the sign intake is in flight.
      await Promise.all([
        ...servers.map((s) => s.stop()),
        signSub?.isClosed() === false ? signSub.drain() : undefined,
      ]);
      clearTimeout(debounce);
      clearInterval(sweepTimer);
      for (const w of watchers) w.close();
      kvStop?.();
      await reloading.catch(() => undefined);
      await Promise.race([audit.drain(), new Promise((r) => setTimeout(r, 5_000).unref())]);
      await jsp?.close();
    })();
    return stopping;
  };

  return {
    replicaId,
    start,
    stop,
    reload,
    ready: () =>
      started &&
      stopping === undefined &&
      trading !== undefined &&
      revocationsKnown &&
      !nc.isClosed(),
    detail: () => ({
      replica: replicaId,
      keys: keys.size,
      callers: callers.size,
      trading: trading ?? "unknown",
      revocations: revocationsKnown ? "known" : "unknown",
      audit_in_flight: audit.inFlight(),
    }),
    handlers: { sign, session },
  };
}
