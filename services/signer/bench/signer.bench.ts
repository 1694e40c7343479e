/**
 * Signer round trip against a bare NATS request-reply echo, in the same run.
 * The signer runs on a worker thread of its own (one core); its event-loop
 * utilisation during the 32-caller run gives signatures/s per core.
 *   node scripts/bench.ts services/signer/bench/signer.bench.ts
 */
import { createPublicKey, sign as edSign, randomBytes, randomUUID, verify } from "node:crypto";
import { performance } from "node:perf_hooks";
import { connectBus, createLogger, createSubjects, ensureStreams } from "@upline/shared";
import {
  type BenchRow,
  emitBench,
  measureLatency,
  startNats,
  startThread,
  uniqueNamespace,
} from "@upline/testkit";
import { compactVerify } from "jose";
import { buildSigner, createSignerClient } from "../src/index.ts";
import { callerKeys, keyFile, sessionJws, signerSettings, tempDirs } from "../test/fixtures.ts";

const SUITE = "signer";
const rows: BenchRow[] = [];
const nats = await startNats();
const namespace = uniqueNamespace();
const dirs = tempDirs();
const exec = callerKeys();
dirs.writeKey("main.json", keyFile({ key_id: "main" }));
dirs.writeCallers([
  {
    id: "order-exec",
    public_jwk: exec.publicJwk,
    keys: ["main"],
    endpoints: ["POST /v1/orders", "GET /v1/orders/chance"],
    markets: ["KRW-BTC"],
    max_order_total: "100000000",
  },
]);

const worker = startThread(new URL("./worker.ts", import.meta.url), {
  natsUrl: nats.url,
  namespace,
  keysDir: dirs.keysDir,
  callersFile: dirs.callersFile,
});
await worker.from("ready");

const logger = createLogger({ service: "signer-bench", level: "silent" });
const nc = await connectBus({ NATS_URL: nats.url }, { name: "signer-bench-client", logger });
const subjects = createSubjects(namespace);
const client = createSignerClient({
  nc,
  subjects,
  callerId: "order-exec",
  privateJwk: exec.privateJwk,
});
await client.connect();

const body = {
  market: "KRW-BTC",
  side: "bid",
  ord_type: "limit",
  price: "95000000",
  volume: "0.001",
  identifier: "",
};
const signOp = () =>
  client.sign({
    keyId: "main",
    method: "POST",
    path: "/v1/orders",
    body: { ...body, identifier: randomUUID() },
  });
// An echo payload of the same size as a sign request.
const echoPayload = JSON.stringify({ jws: "x".repeat(620) });
const echoOp = () => nc.request(`${namespace}.bench.echo`, echoPayload, { timeout: 5_000 });

// Phases to run (short runs while profiling): SIGNER_BENCH_PHASES=1,32,pipe,ed (default all).
const phases = new Set((process.env.SIGNER_BENCH_PHASES ?? "1,32,pipe,ed").split(","));
const worked = async (op: () => Promise<unknown>, total: number, concurrency: number) => {
  const warmup = Math.min(1000, total / 10);
  const phase = worker.use();
  const r = await measureLatency(op, { total, concurrency, warmup });
  const { elu, cpuUs } = await phase();
  // The worker's own CPU time over warm-up + measured ops: µs per op on one core.
  const cpuPerOp = cpuUs / (total + warmup);
  return { r, elu, cpuPerOp, perCore: Math.round(1e6 / cpuPerOp) };
};

for (const concurrency of [1, 32]) {
  if (!phases.has(String(concurrency))) continue;
  const total = Number(process.env.SIGNER_BENCH_TOTAL ?? (concurrency === 1 ? 4_000 : 16_000));
  const echo = await worked(echoOp, total, concurrency);
  rows.push({
    suite: SUITE,
    kind: "baseline",
    name: `bare NATS request-reply echo, ${concurrency} concurrent`,
    ...echo.r,
    cpu_pct: Math.round(echo.elu * 100),
    notes: `responder thread CPU ${echo.cpuPerOp.toFixed(1)} µs/echo → ≈${echo.perCore} echoes/s per core (busy ${Math.round(echo.elu * 100)}%)`,
  });
  const signed = await worked(signOp, total, concurrency);
  rows.push({
    suite: SUITE,
    kind: "ours",
    name: `signer sign (HS256 session-MAC caller JWS, policy, HS512, sealed reply, acked audit), ${concurrency} concurrent`,
    ...signed.r,
    cpu_pct: Math.round(signed.elu * 100),
    notes: `signer thread CPU ${signed.cpuPerOp.toFixed(1)} µs/sign → ≈${signed.perCore} signs/s per core (busy ${Math.round(signed.elu * 100)}%); p50 - echo p50 = ${signed.r.p50_us - echo.r.p50_us} µs`,
  });
}

// The signing pipeline without NATS request-reply (HS256 verify, claims, replay, policy,
// canonical body, Upbit JWT, seal, audit publish with acks collected): the CPU cost per sign.
if (phases.has("pipe")) {
  const pipeSubjects = createSubjects(uniqueNamespace());
  await ensureStreams(nc, pipeSubjects);
  const pipe = buildSigner({
    nc,
    subjects: pipeSubjects,
    logger,
    settings: signerSettings(dirs, { sessionTtlMs: 3_600_000, auditMaxInFlight: 4096 }),
  });
  await pipe.start();
  const drawn: Buffer[] = [];
  const pipeClient = createSignerClient({
    nc,
    subjects: pipeSubjects,
    callerId: "order-exec",
    privateJwk: exec.privateJwk,
    randomBytes: (n) => {
      const b = randomBytes(n);
      drawn.push(Buffer.from(b));
      return b;
    },
  });
  await pipeClient.connect();
  const sid = (drawn.find((b) => b.length === 16) as Buffer).toString("base64url");
  const macKey = drawn.find((b) => b.length === 32) as Buffer;
  const N = 20_000;
  const reqs = Array.from({ length: N }, () => {
    const iat = Math.floor(Date.now() / 1000);
    return {
      jws: sessionJws(sid, macKey, {
        iss: "order-exec",
        jti: randomUUID(),
        iat,
        exp: iat + 10,
        typ: "sign",
        sid,
        key_id: "main",
        method: "POST",
        path: "/v1/orders",
        body: { ...body, identifier: randomUUID() },
      }),
    };
  });
  const t = performance.now();
  const cpu0 = process.threadCpuUsage();
  // 32 at a time, like the 32-caller run: their audit publishes leave in one socket write.
  for (let i = 0; i < N; i++) {
    const p = pipe.handlers.sign(reqs[i] as { jws: string });
    if (i % 32 === 31) await p;
    // Let the audit acks in (the sink refuses grants beyond its in-flight bound, by design).
    if (i % 256 === 255)
      while ((pipe.detail().audit_in_flight as number) > 1024)
        await new Promise((r) => setImmediate(r));
  }
  while ((pipe.detail().audit_in_flight as number) > 0) await new Promise((r) => setImmediate(r));
  const cpu = process.threadCpuUsage(cpu0);
  rows.push({
    suite: SUITE,
    kind: "ours",
    name: "signer pipeline in-process, 32 per tick (no request-reply round trip), one thread",
    ops_per_s: Math.round(N / ((performance.now() - t) / 1000)),
    notes: `${((cpu.user + cpu.system) / N).toFixed(1)} µs thread CPU per sign (audit publish + ack included)`,
  });
  await pipe.stop();
}

// Caller verification alone: why the signer verifies Ed25519 with node:crypto, not jose.
if (phases.has("ed")) {
  const { privateKey, publicKey } = {
    privateKey: exec.privateKey,
    publicKey: createPublicKey({ key: exec.publicJwk, format: "jwk" }),
  };
  const header = Buffer.from('{"alg":"EdDSA"}').toString("base64url");
  const payload = Buffer.from(
    JSON.stringify({ iss: "order-exec", jti: randomUUID(), body }),
  ).toString("base64url");
  const jws = `${header}.${payload}.${edSign(null, Buffer.from(`${header}.${payload}`), privateKey).toString("base64url")}`;
  const N = 5_000;
  let t0 = performance.now();
  for (let i = 0; i < N; i++) await compactVerify(jws, publicKey);
  rows.push({
    suite: SUITE,
    kind: "peer",
    name: "Ed25519 verify, jose compactVerify",
    ops_per_s: Math.round(N / ((performance.now() - t0) / 1000)),
  });
  t0 = performance.now();
  for (let i = 0; i < N; i++) {
    const dot = jws.lastIndexOf(".");
    verify(
      null,
      Buffer.from(jws.slice(0, dot)),
      publicKey,
      Buffer.from(jws.slice(dot + 1), "base64url"),
    );
  }
  rows.push({
    suite: SUITE,
    kind: "baseline",
    name: "Ed25519 verify, node:crypto on the compact form",
    ops_per_s: Math.round(N / ((performance.now() - t0) / 1000)),
  });
}

emitBench(rows);
await worker.stop();
await nc.drain();
await nats.stop();
dirs.cleanup();
for (const r of rows)
  process.stdout.write(
    `${r.name}: ${r.ops_per_s ?? "-"} ops/s, p50 ${r.p50_us ?? "-"} µs, p99 ${r.p99_us ?? "-"} µs ${r.notes ?? ""}\n`,
  );
