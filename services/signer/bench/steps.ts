/**
 * Per-step CPU cost of the sign pipeline (signer side) and of the client's
 * per-request work, one thread, warm: µs of thread CPU per call. A tool for
 * profiling on a given machine (not part of `scripts/bench.ts`):
 *   flock /tmp/upline-bench.lock node services/signer/bench/steps.ts
 */
import {
  createCipheriv,
  createHmac,
  createSecretKey,
  randomBytes,
  randomUUID,
  timingSafeEqual,
} from "node:crypto";
import { uuidv7 } from "@upline/shared";
import { grantJson } from "../src/app.ts";
import { canonicalBody, paramsDigest, queryHash } from "../src/canonical.ts";
import { isSignGrant, isSignReply } from "../src/client.ts";
import { checkPolicy } from "../src/policy.ts";
import { isSignClaims, parseCompactJws, verifyHs256 } from "../src/request.ts";
import { open, seal } from "../src/seal.ts";
import { createUpbitTokenSigner } from "../src/upbit-jwt.ts";
import { sessionJws } from "../test/fixtures.ts";

const N = Number(process.env.N ?? 50_000);
const results: [string, number][] = [];
const bench = (name: string, f: () => unknown) => {
  for (let i = 0; i < 2000; i++) f();
  const c0 = process.threadCpuUsage();
  for (let i = 0; i < N; i++) f();
  const c = process.threadCpuUsage(c0);
  results.push([name, (c.user + c.system) / N]);
};
const macRaw = randomBytes(32);
const macKey = createSecretKey(macRaw);
const sealKey = createSecretKey(randomBytes(32));
const sealRaw = randomBytes(32);
const secretRaw = Buffer.from(`sk-${randomBytes(24).toString("hex")}`);
const secret = createSecretKey(secretRaw);
const body = {
  market: "KRW-BTC",
  side: "bid",
  ord_type: "limit",
  price: "95000000",
  volume: "0.001",
  identifier: randomUUID(),
};
const sid = randomBytes(16).toString("base64url");
const iat = Math.floor(Date.now() / 1000);
const claims = {
  iss: "order-exec",
  jti: randomUUID(),
  iat,
  exp: iat + 5,
  typ: "sign",
  sid,
  key_id: "main",
  method: "POST",
  path: "/v1/orders",
  body,
};
const jws = sessionJws(sid, macKey, claims);
const p = jws.split(".")[1] as string;
const reqBytes = Buffer.from(JSON.stringify({ jws }));
const dec = new TextDecoder();

bench("request JSON.parse(TextDecoder)", () => JSON.parse(dec.decode(reqBytes)));
bench("request JSON.parse(buf.toString)", () => JSON.parse(reqBytes.toString("utf8")));
bench("parseCompactJws", () => parseCompactJws(jws));
const parsed = parseCompactJws(jws);
bench("b64url decode payload", () => Buffer.from(p, "base64url").toString("utf8"));
bench("JSON.parse payload", () => JSON.parse(JSON.stringify(claims)));
bench("verifyHs256 (createHmac KeyObject)", () => verifyHs256(parsed, macKey));
bench("createHmac sha256 KeyObject digest", () =>
  createHmac("sha256", macKey).update(parsed.signingInput).digest(),
);
bench("createHmac sha256 Buffer digest", () =>
  createHmac("sha256", macRaw).update(parsed.signingInput).digest(),
);
const mac = createHmac("sha256", macKey).update(parsed.signingInput).digest();
bench("timingSafeEqual", () => timingSafeEqual(mac, parsed.signature));
bench("isSignClaims", () => isSignClaims(parsed.payload));
bench("canonicalBody", () => canonicalBody(body));
const canon = canonicalBody(body);
bench("paramsDigest sha256", () => paramsDigest(canon.hashed));
bench("queryHash sha512 hex", () => queryHash(canon.hashed));
bench("randomUUID", () => randomUUID());
bench("uuidv7", () => uuidv7(Date.now()));
bench("Date toISOString", () => new Date(Date.now()).toISOString());
bench("createHmac sha512 KeyObject b64url", () =>
  createHmac("sha512", secret)
    .update(canon.hashed + canon.hashed)
    .digest("base64url"),
);
bench("createHmac sha512 Buffer b64url", () =>
  createHmac("sha512", secretRaw)
    .update(canon.hashed + canon.hashed)
    .digest("base64url"),
);
const tokens = createUpbitTokenSigner("HS512");
bench("tokens.sign", () => tokens.sign(secret, "ak-0123456789abcdef01234567", canon.hashed));
const grantToken = tokens.sign(secret, "ak-0123456789abcdef01234567", canon.hashed);
const grant = JSON.stringify({
  authorization: `Bearer ${tokens.sign(secret, "ak-0123456789abcdef01234567", canon.hashed)}`,
  body: canon.json,
});
bench("grant JSON.stringify({authorization, body})", () =>
  JSON.stringify({ authorization: `Bearer ${grantToken}`, body: canon.json }),
);
bench("grant grantJson (field by field)", () => grantJson(grantToken, canon));
bench("seal (KeyObject)", () => seal(sealKey, grant, claims.jti));
bench("createCipheriv gcm KeyObject only", () =>
  createCipheriv("aes-256-gcm", sealKey, randomBytes(12)),
);
const iv = randomBytes(12);
bench("createCipheriv gcm KeyObject (fixed iv)", () => createCipheriv("aes-256-gcm", sealKey, iv));
bench("createCipheriv gcm Buffer key", () => createCipheriv("aes-256-gcm", sealRaw, iv));
bench("gcm full Buffer key", () => {
  const c = createCipheriv("aes-256-gcm", sealRaw, iv);
  c.setAAD(Buffer.from(claims.jti));
  const ct = c.update(grant, "utf8");
  c.final();
  return Buffer.concat([iv, ct, c.getAuthTag()]).toString("base64url");
});
const caller = {
  id: "order-exec",
  endpoints: new Set(["POST /v1/orders"]),
  markets: new Set(["KRW-BTC"]),
  maxOrderTotal: "100000000",
  maxOrderVolume: undefined,
  keys: new Set(["main"]),
} as never;
const key = { keyId: "main", sensitiveEndpoints: new Set() } as never;
bench("checkPolicy", () =>
  checkPolicy({ method: "POST", path: "/v1/orders", body }, caller, key, "active"),
);
bench("JSON.stringify audit-ish", () =>
  JSON.stringify({
    id: uuidv7(),
    ts: "2026-11-21T23:00:00.000Z",
    service: "signer",
    kind: "sign",
    outcome: "ok",
    actor: "order-exec",
    data: {
      caller: "order-exec",
      key_id: "main",
      method: "POST",
      path: "/v1/orders",
      params_digest: "0123456789abcdef0123456789abcdef",
      key_version: 1,
      decision: "granted",
      code: null,
    },
  }),
);
bench("TextEncoder 600B", () => new TextEncoder().encode(grant));
bench("Buffer.from 600B", () => Buffer.from(grant));
const cSid = randomBytes(16).toString("base64url");
const cMacHeader = Buffer.from(JSON.stringify({ alg: "HS256", kid: cSid })).toString("base64url");
const cBody = {
  market: "KRW-BTC",
  side: "bid",
  ord_type: "limit",
  price: "95000000",
  volume: "0.001",
  identifier: randomUUID(),
};
bench("client: JWS build (claims JSON + b64url + HMAC)", () => {
  const iat = Math.floor(Date.now() / 1000);
  const claims = {
    iss: "order-exec",
    jti: randomUUID(),
    iat,
    exp: iat + 5,
    typ: "sign",
    sid: cSid,
    key_id: "main",
    key_version: undefined,
    method: "POST",
    path: "/v1/orders",
    params: undefined,
    body: cBody,
  };
  const payload = Buffer.from(JSON.stringify(claims)).toString("base64url");
  const input = `${cMacHeader}.${payload}`;
  return `{"jws":"${input}.${createHmac("sha256", macKey).update(input).digest("base64url")}"}`;
});
const cGrant = JSON.stringify({
  authorization: `Bearer ${"x".repeat(460)}`,
  body: JSON.stringify(cBody),
});
const jti = randomUUID();
const reply = Buffer.from(`{"replica":"r-0123abcd","sealed":"${seal(sealKey, cGrant, jti)}"}`);
bench("client: reply JSON.parse + isSignReply + open + JSON.parse + isSignGrant", () => {
  const r = JSON.parse(dec.decode(reply));
  if (!isSignReply(r)) throw new Error();
  const g = JSON.parse(open(sealKey, r.sealed, jti));
  if (!isSignGrant(g)) throw new Error();
  return g;
});
bench("client: open only", () =>
  open(sealKey, (JSON.parse(dec.decode(reply)) as { sealed: string }).sealed, jti),
);

for (const [n, us] of results) process.stdout.write(`${us.toFixed(2).padStart(7)} µs  ${n}\n`);
