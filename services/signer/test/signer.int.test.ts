import assert from "node:assert/strict";
import { createHash, createHmac, randomBytes, randomUUID } from "node:crypto";
import { Writable } from "node:stream";
import { after, before, describe, test } from "node:test";
import { Kvm } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/transport-node";
import {
  AuditEvent,
  connectBus,
  createLogger,
  createSubjects,
  ensureStreams,
  InMemorySpanExporter,
  isUplineError,
  request,
  SignReply,
  SignRequest,
  startTelemetry,
} from "@upline/shared";
import { eventually, startNats, uniqueNamespace } from "@upline/testkit";
import { decodeJwt, jwtVerify } from "jose";
import { buildSigner, createSignerClient, type Signer, type SignerClient } from "../src/index.ts";
import { callerKeys, keyFile, sessionJws, signerSettings, tempDirs } from "./fixtures.ts";

const exporter = new InMemorySpanExporter();
const telemetry = startTelemetry({ service: "signer-test", spanExporter: exporter });
const logLines: string[] = [];
const logger = createLogger({
  service: "signer",
  level: "debug",
  destination: new Writable({
    write(chunk, _enc, done) {
      logLines.push(String(chunk));
      done();
    },
  }),
});
const sha512 = (s: string) => createHash("sha512").update(s).digest("hex");

interface Recorded {
  readonly subject: string;
  readonly text: string;
}

describe("signer over a real NATS", () => {
  const subjects = createSubjects(uniqueNamespace());
  const dirs = tempDirs();
  const exec = callerKeys();
  const operator = callerKeys();
  const stranger = callerKeys();
  const mainV1 = keyFile({ key_id: "main", version: 1 });
  const mainV2 = keyFile({ key_id: "main", version: 2 });
  const secrets = [mainV1.secret_key, mainV2.secret_key];
  const tokens: string[] = [];
  /** Every session id and MAC key the main client generated (never on the bus in clear). */
  const generated: Buffer[] = [];
  const recorded: Recorded[] = [];
  let offsetMs = 0;
  let nc: NatsConnection;
  let spy: NatsConnection;
  let signer: Signer;
  let client: SignerClient;
  let admin: SignerClient;

  const sign = async (args: Parameters<SignerClient["sign"]>[0]) => {
    const grant = await client.sign(args);
    tokens.push(grant.authorization.slice("Bearer ".length));
    return grant;
  };
  const denied = async (p: Promise<unknown>, code: string) => {
    await assert.rejects(p, (err: unknown) => isUplineError(err) && err.code === code);
  };

  before(async () => {
    const nats = await startNats();
    spy = await connectBus({ NATS_URL: nats.url }, { name: "spy", logger });
    spy.subscribe(">", {
      callback: (_err, m) => {
        const hdrs = m.headers
          ? [...m.headers.keys()].map((k) => `${k}: ${m.headers?.get(k)}`).join("\n")
          : "";
        recorded.push({
          subject: m.subject,
          text: `${hdrs}\n${Buffer.from(m.data).toString("utf8")}`,
        });
      },
    });
    await spy.flush();
    nc = await connectBus({ NATS_URL: nats.url }, { name: "signer-test", logger });
    await ensureStreams(nc, subjects);
    dirs.writeKey("main-1.json", mainV1);
    dirs.writeCallers([
      {
        id: "order-exec",
        public_jwk: exec.publicJwk,
        keys: ["main"],
        endpoints: [
          "GET /v1/accounts",
          "GET /v1/orders/closed",
          "POST /v1/orders",
          "DELETE /v1/order",
          "POST /v1/withdraws/coin",
        ],
        markets: ["KRW-BTC"],
        max_order_total: "1000000",
      },
      { id: "operator", public_jwk: operator.publicJwk, admin: true },
    ]);
    signer = buildSigner({
      nc,
      subjects,
      logger,
      clock: () => Date.now() + offsetMs,
      settings: signerSettings(dirs, { watchFiles: true, watchDebounceMs: 50 }),
    });
    await signer.start();
    client = createSignerClient({
      nc,
      subjects,
      callerId: "order-exec",
      privateJwk: exec.privateJwk,
      randomBytes: (n) => {
        const b = randomBytes(n);
        generated.push(Buffer.from(b));
        return b;
      },
    });
    admin = createSignerClient({
      nc,
      subjects,
      callerId: "operator",
      privateJwk: operator.privateJwk,
    });
  });

  after(async () => {
    await signer.stop();
    await nc.drain();
    await spy.drain();
    await telemetry.shutdown();
    dirs.cleanup();
  });

  test("signer - grants a request without params; jose verifies the token with the secret", async () => {
    const grant = await sign({ keyId: "main", method: "GET", path: "/v1/accounts" });
    const { payload } = await jwtVerify(
      grant.authorization.slice(7),
      new TextEncoder().encode(mainV1.secret_key),
      {
        algorithms: ["HS512"],
      },
    );
    assert.equal(payload.access_key, mainV1.access_key);
    assert.equal(payload.query_hash, undefined);
    assert.equal(grant.query, undefined);
  });

  test("signer - grants a query with states[] and an ISO timestamp, hashing the decoded string", async () => {
    const grant = await sign({
      keyId: "main",
      method: "GET",
      path: "/v1/orders/closed",
      params: [
        ["market", "KRW-BTC"],
        ["states[]", "done"],
        ["states[]", "cancel"],
        ["start_time", "2026-11-01T00:00:00+09:00"],
      ],
    });
    const expected =
      "market=KRW-BTC&states[]=done&states[]=cancel&start_time=2026-11-01T00:00:00+09:00";
    assert.equal(grant.query, expected);
    assert.equal(decodeURIComponent(grant.url_query ?? ""), expected);
    const { payload } = await jwtVerify(
      grant.authorization.slice(7),
      new TextEncoder().encode(mainV1.secret_key),
    );
    assert.equal(payload.query_hash, sha512(expected));
  });

  test("signer - grants a POST body and answers the exact JSON to send", async () => {
    const grant = await sign({
      keyId: "main",
      method: "POST",
      path: "/v1/orders",
      body: { market: "KRW-BTC", side: "bid", ord_type: "limit", price: "100000", volume: "0.5" },
    });
    assert.equal(
      grant.body,
      '{"market":"KRW-BTC","side":"bid","ord_type":"limit","price":"100000","volume":"0.5"}',
    );
    const claims = decodeJwt(grant.authorization.slice(7));
    assert.equal(
      claims.query_hash,
      sha512("market=KRW-BTC&side=bid&ord_type=limit&price=100000&volume=0.5"),
    );
  });

  test("signer - a grant's audit event is handed to the connection in the turn of the decision", async () => {
    await sign({ keyId: "main", method: "GET", path: "/v1/accounts" }); // a session with a MAC key
    // Synchronously with the decision, so before the reply's flush (a microtask later): in
    // flight as soon as the handler has returned.
    const sid = [...generated]
      .reverse()
      .find((b) => b.length === 16)
      ?.toString("base64url");
    const macKey = [...generated].reverse().find((b) => b.length === 32);
    assert.ok(sid !== undefined && macKey !== undefined);
    const iat = Math.floor(Date.now() / 1000);
    const jws = sessionJws(sid, macKey, {
      iss: "order-exec",
      jti: randomUUID(),
      iat,
      exp: iat + 5,
      typ: "sign",
      sid,
      key_id: "main",
      method: "GET",
      path: "/v1/accounts",
    });
    const inFlight = signer.detail().audit_in_flight as number;
    const reply = signer.handlers.sign({ jws });
    assert.equal(signer.detail().audit_in_flight, inFlight + 1);
    assert.ok((await reply).sealed.length > 0);
  });

  test("signer - denies an unknown caller", async () => {
    const c = createSignerClient({
      nc,
      subjects,
      callerId: "stranger",
      privateJwk: stranger.privateJwk,
    });
    await denied(
      c.sign({ keyId: "main", method: "GET", path: "/v1/accounts" }),
      "SIGNER_UNKNOWN_CALLER",
    );
  });

  test("signer - denies a tampered JWS and a replayed one seen on the bus", async () => {
    const seen: string[] = [];
    const tap = nc.subscribe(subjects.signer.sign, {
      callback: (_e, m) => {
        seen.push(Buffer.from(m.data).toString("utf8"));
      },
    });
    await nc.flush();
    // Key main was revoked by an earlier test: a denial, traced and audited like a grant.
    await sign({ keyId: "main", method: "GET", path: "/v1/accounts" }).catch(() => undefined);
    await eventually(() => seen.length === 1);
    tap.unsubscribe();
    const { jws } = JSON.parse(seen[0] as string) as { jws: string };
    await denied(
      request(nc, subjects.signer.sign, SignRequest, SignReply, { jws }),
      "SIGNER_REPLAYED",
    );
    const [h, p, s] = jws.split(".") as [string, string, string];
    const claims = JSON.parse(Buffer.from(p, "base64url").toString("utf8")) as Record<
      string,
      unknown
    >;
    const forged = Buffer.from(
      JSON.stringify({ ...claims, jti: "forged-jti-1", path: "/v1/withdraws/coin" }),
    ).toString("base64url");
    await denied(
      request(nc, subjects.signer.sign, SignRequest, SignReply, { jws: `${h}.${forged}.${s}` }),
      "SIGNER_BAD_SIGNATURE",
    );
  });

  /** An HS256 sign request built by hand (the client's format), for forgeries. */
  const macRequest = (
    macKey: Buffer,
    header: Record<string, unknown>,
    claims: Record<string, unknown>,
  ) => {
    const iat = Math.floor(Date.now() / 1000);
    const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString("base64url");
    const input = `${b64(header)}.${b64({ jti: randomUUID(), iat, exp: iat + 5, typ: "sign", key_id: "main", method: "GET", path: "/v1/accounts", ...claims })}`;
    const jws = `${input}.${createHmac("sha256", macKey).update(input).digest("base64url")}`;
    return request(nc, subjects.signer.sign, SignRequest, SignReply, { jws });
  };

  test("signer - sign requests after the handshake are HS256 JWS under the session MAC key, bound to their caller", async () => {
    await sign({ keyId: "main", method: "GET", path: "/v1/accounts" });
    const macKey = generated.findLast((b) => b.length === 32) as Buffer;
    const sid = (generated.findLast((b) => b.length === 16) as Buffer).toString("base64url");
    // Built by hand with the right key: granted (so the forgeries below differ only as said).
    const ok = await macRequest(macKey, { alg: "HS256", kid: sid }, { iss: "order-exec", sid });
    assert.equal(ok.replica, signer.replicaId);
    // Another caller's name on this session's MAC: its (caller, sid) session does not exist.
    await denied(
      macRequest(macKey, { alg: "HS256", kid: sid }, { iss: "operator", sid }),
      "SIGNER_SESSION_UNKNOWN",
    );
    // A MAC under any other key, or kid and sid that differ: bad signature.
    await denied(
      macRequest(randomBytes(32), { alg: "HS256", kid: sid }, { iss: "order-exec", sid }),
      "SIGNER_BAD_SIGNATURE",
    );
    await denied(
      macRequest(
        macKey,
        { alg: "HS256", kid: sid },
        { iss: "order-exec", sid: "AAAAAAAAAAAAAAAAAAAAAA" },
      ),
      "SIGNER_BAD_SIGNATURE",
    );
    await denied(
      macRequest(macKey, { alg: "HS256", kid: sid, jku: "x" }, { iss: "order-exec", sid }),
      "SIGNER_BAD_SIGNATURE",
    );
    // A session this replica never opened (or forgot): retryable, the client shakes hands again.
    await denied(
      macRequest(
        macKey,
        { alg: "HS256", kid: "BBBBBBBBBBBBBBBBBBBBBB" },
        { iss: "order-exec", sid: "BBBBBBBBBBBBBBBBBBBBBB" },
      ),
      "SIGNER_SESSION_UNKNOWN",
    );
    // An unknown caller is refused before any session lookup.
    await denied(
      macRequest(macKey, { alg: "HS256", kid: sid }, { iss: "stranger", sid }),
      "SIGNER_UNKNOWN_CALLER",
    );
  });

  test("signer - a forgotten session is unknown (retryable); the client re-handshakes once and is granted", async () => {
    const c = createSignerClient({
      nc,
      subjects,
      callerId: "order-exec",
      privateJwk: exec.privateJwk,
    });
    await c.connect();
    const handshakes = () =>
      recorded.filter((r) => r.subject === subjects.signer.session && r.text.includes('"jws"'))
        .length;
    await spy.flush();
    const before = handshakes();
    // A caller whose public key changes loses its sessions; then the old key comes back.
    const policy = {
      id: "order-exec",
      keys: ["main"],
      endpoints: [
        "GET /v1/accounts",
        "GET /v1/orders/closed",
        "POST /v1/orders",
        "DELETE /v1/order",
        "POST /v1/withdraws/coin",
      ],
      markets: ["KRW-BTC"],
      max_order_total: "1000000",
    };
    const adminEntry = { id: "operator", public_jwk: operator.publicJwk, admin: true };
    dirs.writeCallers([{ ...policy, public_jwk: stranger.publicJwk }, adminEntry]);
    await admin.admin("reload");
    dirs.writeCallers([{ ...policy, public_jwk: exec.publicJwk }, adminEntry]);
    await admin.admin("reload");
    const grant = await c.sign({ keyId: "main", method: "GET", path: "/v1/accounts" });
    tokens.push(grant.authorization.slice(7));
    await spy.flush();
    assert.equal(handshakes(), before + 2); // session + session_key, once
    await client.connect(); // the shared client lost its session too
  });

  test("signer - per-request EdDSA JWS stay accepted (no MAC key needed)", async () => {
    const c = createSignerClient({
      nc,
      subjects,
      callerId: "order-exec",
      privateJwk: exec.privateJwk,
      macRequests: false,
    });
    const grant = await c.sign({ keyId: "main", method: "GET", path: "/v1/accounts" });
    tokens.push(grant.authorization.slice(7));
    assert.match(grant.authorization, /^Bearer /);
  });

  test("signer - denies an expired request", async () => {
    offsetMs = 30_000;
    try {
      await denied(sign({ keyId: "main", method: "GET", path: "/v1/accounts" }), "SIGNER_EXPIRED");
    } finally {
      offsetMs = 0;
    }
  });

  test("signer - denies a key id outside the caller's policy, a withdrawal, a foreign market and an order over the limit", async () => {
    await denied(
      sign({ keyId: "other", method: "GET", path: "/v1/accounts" }),
      "SIGNER_KEY_NOT_ALLOWED",
    );
    await denied(
      sign({
        keyId: "main",
        method: "POST",
        path: "/v1/withdraws/coin",
        body: { currency: "BTC", amount: "1" },
      }),
      "SIGNER_ENDPOINT_NOT_ALLOWED",
    );
    await denied(
      sign({
        keyId: "main",
        method: "POST",
        path: "/v1/orders",
        body: { market: "KRW-XRP", side: "bid", ord_type: "price", price: "5000" },
      }),
      "SIGNER_PARAMS_OVER_LIMIT",
    );
    await denied(
      sign({
        keyId: "main",
        method: "POST",
        path: "/v1/orders",
        body: {
          market: "KRW-BTC",
          side: "bid",
          ord_type: "limit",
          price: "100000000",
          volume: "1",
        },
      }),
      "SIGNER_PARAMS_OVER_LIMIT",
    );
  });

  test("signer - halted trading denies new orders while cancels still pass", async () => {
    const kv = await new Kvm(nc).open(subjects.buckets.control);
    const put = (state: string) =>
      kv.put(
        subjects.controlTradingKey,
        JSON.stringify({
          state,
          reason: "test",
          actor: "operator",
          updated_at: new Date().toISOString(),
        }),
      );
    const order = {
      market: "KRW-BTC",
      side: "bid",
      ord_type: "limit",
      price: "100000",
      volume: "0.1",
    };
    await put("halted");
    try {
      await eventually(() => signer.detail().trading === "halted");
      await denied(
        sign({ keyId: "main", method: "POST", path: "/v1/orders", body: order }),
        "SIGNER_TRADING_HALTED",
      );
      const cancel = await sign({
        keyId: "main",
        method: "DELETE",
        path: "/v1/order",
        params: [["uuid", "u-1"]],
      });
      assert.equal(cancel.query, "uuid=u-1");
    } finally {
      await put("active");
    }
    await eventually(() => signer.detail().trading === "active");
    await sign({ keyId: "main", method: "POST", path: "/v1/orders", body: order });
  });

  test("signer - admin operations are refused to a non-admin caller", async () => {
    await denied(client.admin("list"), "SIGNER_NOT_ADMIN");
  });

  test("signer - rotation and revocation take effect without a restart; a 0644 key file is refused", async () => {
    dirs.writeKey("main-2.json", mainV2);
    await eventually(async () => {
      const g = await sign({ keyId: "main", method: "GET", path: "/v1/accounts" });
      return decodeJwt(g.authorization.slice(7)).access_key === mainV2.access_key;
    });
    const listed = await admin.admin("list");
    assert.deepEqual(
      listed.keys?.map((k) => `${k.key_id}@${k.version} ${k.status}`),
      ["main@2 active", "main@1 retiring"],
    );
    assert.doesNotMatch(JSON.stringify(listed), new RegExp(mainV2.secret_key));

    dirs.writeKey("loose.json", keyFile({ key_id: "loose" }), 0o644);
    const reloaded = await admin.admin("reload");
    assert.ok(reloaded.problems?.some((p) => /loose\.json: mode 0644/.test(p)));
    assert.ok(!(await admin.admin("list")).keys?.some((k) => k.key_id === "loose"));
    dirs.removeKey("loose.json");

    const revoked = await admin.admin("revoke", { keyId: "main" });
    assert.equal(revoked.revoked, 2);
    await denied(
      sign({ keyId: "main", method: "GET", path: "/v1/accounts" }),
      "SIGNER_KEY_NOT_ALLOWED",
    );
  });

  test("signer client - a request nobody answers is BUS_TIMEOUT", async () => {
    const other = createSubjects(uniqueNamespace());
    await ensureStreams(nc, other);
    const s2 = buildSigner({
      nc,
      subjects: other,
      logger,
      settings: signerSettings(dirs),
    });
    await s2.start();
    const c2 = createSignerClient({
      nc,
      subjects: other,
      callerId: "order-exec",
      privateJwk: exec.privateJwk,
      timeoutMs: 300,
    });
    await c2.connect();
    const args = { keyId: "main", method: "GET", path: "/v1/accounts" } as const;
    assert.ok((await c2.sign(args)).authorization.startsWith("Bearer "));
    await s2.stop();
    // The `>` spy of this suite is a subscriber of every subject, so the server never answers
    // "no responders" here: the request goes unanswered and times out.
    await assert.rejects(c2.sign(args), (e: unknown) => isUplineError(e, "BUS_TIMEOUT"));
  });

  test("signer - every grant and denial is an audit event with its code", async () => {
    const audits = () =>
      recorded
        .filter((r) => r.subject.startsWith(subjects.audit.event("signer", "sign")))
        // Built by hand on the hot path (no zod per event): each must still be an AuditEvent.
        .map((r) => AuditEvent.parse(JSON.parse(r.text.slice(r.text.indexOf("\n{") + 1))));
    // A caller-chosen string that looks like a token is scrubbed from the event (hand-built events
    // scrub only strings with whitespace or a dot: the only ones scrubSecrets can change).
    const fakeToken = "Bearer eyJhbGciOiJ.eyJzdWIiOiJ4.c2lnbmF0dXJl";
    await denied(
      sign({ keyId: fakeToken, method: "GET", path: "/v1/accounts" }),
      "SIGNER_KEY_NOT_ALLOWED",
    );
    await eventually(() => audits().some((a) => a.data.code === "SIGNER_KEY_NOT_ALLOWED"));
    await eventually(() =>
      audits().some((a) => String(a.data.key_id).startsWith("Bearer [redacted]")),
    );
    assert.ok(!audits().some((a) => JSON.stringify(a).includes("eyJzdWIiOiJ4")));
    const codes = new Set(audits().map((a) => a.data.code));
    for (const code of [
      null,
      "SIGNER_REPLAYED",
      "SIGNER_BAD_SIGNATURE",
      "SIGNER_EXPIRED",
      "SIGNER_ENDPOINT_NOT_ALLOWED",
      "SIGNER_PARAMS_OVER_LIMIT",
      "SIGNER_TRADING_HALTED",
    ])
      assert.ok(codes.has(code), `audit has ${code}`);
    const grant = audits().find((a) => a.outcome === "ok" && a.data.path === "/v1/orders/closed");
    assert.equal(grant?.data.caller, "order-exec");
    assert.match(String(grant?.data.params_digest), /^[0-9a-f]{32}$/);
  });

  test("signer - a sign request carries its trace: client span, signer span and audit span share it", async () => {
    // Key main was revoked by an earlier test: a denial, traced and audited like a grant.
    await sign({ keyId: "main", method: "GET", path: "/v1/accounts" }).catch(() => undefined);
    const client = exporter.getFinishedSpans().findLast((s) => s.name === "request signer.sign");
    assert.ok(client, "a CLIENT span per sign request");
    const trace = client.spanContext().traceId;
    // The audit span ends when JetStream acks the event, which may come after
    // the reply: wait for this request's, not for any earlier one.
    await eventually(
      () => {
        const spans = exporter.getFinishedSpans().filter((s) => s.spanContext().traceId === trace);
        assert.ok(
          spans.some((s) => s.name === "handle signer.sign"),
          "the signer's SERVER span continues the caller's trace",
        );
        assert.ok(
          spans.some((s) => s.name === "audit publish sign"),
          "the audit publish is in the same trace",
        );
      },
      { message: "client, signer and audit spans in one trace" },
    );
  });

  test("signer - leak test: no secret or issued token in logs, NATS traffic, audit events or spans", async () => {
    assert.ok(tokens.length >= 8, `issued ${tokens.length} tokens`);
    await nc.flush();
    await spy.flush();
    const spans = exporter.getFinishedSpans().map((s) =>
      JSON.stringify({
        name: s.name,
        attributes: s.attributes,
        events: s.events,
        status: s.status,
      }),
    );
    const haystacks: [string, string[]][] = [
      ["logs", logLines],
      ["NATS traffic", recorded.map((r) => `${r.subject}\n${r.text}`)],
      ["spans", spans],
    ];
    assert.ok(logLines.length > 0 && recorded.length > 0 && spans.length > 0);
    assert.ok(generated.some((b) => b.length === 32));
    const macKeys = generated
      .filter((b) => b.length === 32)
      .flatMap((b) => [b.toString("hex"), b.toString("base64"), b.toString("base64url")]);
    for (const needle of macKeys)
      for (const [where, hay] of haystacks)
        assert.ok(!hay.some((h) => h.includes(needle)), `a session MAC key appears in ${where}`);
    for (const needle of [...secrets, ...tokens]) {
      const parts = needle.includes(".") ? [needle, needle.split(".")[2] as string] : [needle];
      for (const [where, hay] of haystacks)
        for (const part of parts)
          assert.ok(!hay.some((h) => h.includes(part)), `a secret or token appears in ${where}`);
    }
  });
});
