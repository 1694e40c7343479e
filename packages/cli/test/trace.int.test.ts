/**
 * One trace, end to end (issue 9): real NATS and PostgreSQL from the testkit,
 * the simulator, and signer, order-exec and audit built in this process with
 * an in-memory span exporter. An order placed through the CLI's code path
 * (`runCli(["order","place",…])`) must yield ONE trace covering
 * CLI request → order-exec → signer → audit publish → HTTP to the exchange →
 * fill event → audit store, and the stored audit rows must carry its id.
 */

import assert from "node:assert/strict";
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import type { NatsConnection } from "@nats-io/transport-node";
import { type AuditApp, auditConfigSchema, buildAudit, openDb, queryEvents } from "@upline/audit";
import { buildOrderExec, type OrderExec, SIGNER_ENDPOINTS } from "@upline/order-exec";
import {
  connectBus,
  createLogger,
  createSubjects,
  ensureStreams,
  InMemorySpanExporter,
  type OrderEvent,
  type ReadableSpan,
  type Subjects,
  startTelemetry,
  type Telemetry,
} from "@upline/shared";
import { buildSigner, createSignerClient, type Signer } from "@upline/signer";
import { eventually, startNats, startPostgres, uniqueNamespace } from "@upline/testkit";
import { type Sim, startSim } from "@upline/upbit-sim";
import { runCli } from "../src/index.ts";
import { jsonLines, recordingIo } from "./helpers.ts";

const logger = createLogger({ service: "cli", level: "silent" });

describe("one trace from the CLI to the audit store", () => {
  const exporter = new InMemorySpanExporter();
  let telemetry: Telemetry;
  let dir: string;
  let nc: NatsConnection;
  let subjects: Subjects;
  let sim: Sim;
  let signer: Signer;
  let exec: OrderExec;
  let audit: AuditApp;
  let databaseUrl: string;
  let natsUrl: string;
  const events: OrderEvent[] = [];

  before(async () => {
    telemetry = startTelemetry({ service: "upline-e2e", spanExporter: exporter });
    dir = mkdtempSync(join(tmpdir(), "upline-trace-"));
    const keysDir = join(dir, "keys");
    mkdirSync(keysDir, { mode: 0o700 });
    const accessKey = `ak-${randomBytes(8).toString("hex")}`;
    const secretKey = randomBytes(24).toString("hex");
    writeFileSync(
      join(keysDir, "main.json"),
      JSON.stringify({
        key_id: "main",
        version: 1,
        access_key: accessKey,
        secret_key: secretKey,
        account: "main",
        scopes: ["view_accounts", "make_orders", "view_orders"],
      }),
      { mode: 0o600 },
    );
    const { privateKey, publicKey } = generateKeyPairSync("ed25519");
    const callersFile = join(dir, "callers.json");
    writeFileSync(
      callersFile,
      JSON.stringify({
        callers: [
          {
            id: "order-exec",
            public_jwk: publicKey.export({ format: "jwk" }),
            keys: ["main"],
            endpoints: SIGNER_ENDPOINTS,
          },
        ],
      }),
      { mode: 0o600 },
    );
    sim = await startSim({
      port: 0,
      seed: 5,
      markets: ["KRW-BTC"],
      accounts: [{ accessKey, secretKey, balances: { KRW: "100000000" } }],
    });
    natsUrl = (await startNats()).url;
    databaseUrl = await (await startPostgres()).createDatabase("trace");
    subjects = createSubjects(uniqueNamespace());
    nc = await connectBus({ NATS_URL: natsUrl }, { name: "trace-test", logger });
    await ensureStreams(nc, subjects);
    nc.subscribe(subjects.orders.eventsAll, {
      callback: (_e, m) => {
        events.push(JSON.parse(Buffer.from(m.data).toString("utf8")) as OrderEvent);
      },
    });
    audit = buildAudit({
      config: auditConfigSchema.parse({
        DATABASE_URL: databaseUrl,
        AUDIT_DATA_DIR: join(dir, "audit"),
      }),
      nc,
      subjects,
      logger,
    });
    await audit.start();
    signer = buildSigner({
      nc,
      subjects,
      logger,
      settings: {
        keysDir,
        callersFile,
        jwtAlg: "HS512",
        rotationGraceMs: 60_000,
        expiryWarnDays: 30,
        sessionTtlMs: 600_000,
        auditMaxInFlight: 1024,
        watchFiles: false,
      },
    });
    await signer.start();
    const client = createSignerClient({
      nc,
      subjects,
      callerId: "order-exec",
      privateJwk: privateKey,
    });
    exec = buildOrderExec({
      nc,
      subjects,
      logger,
      sign: (args) => client.sign(args),
      settings: {
        restUrl: sim.restUrl,
        privateWsUrl: sim.privateWsUrl,
        accounts: { main: "main" },
        pocket: "trace",
        markets: ["KRW-BTC"],
        maxOrdersPerS: 100,
        orderLimit: 8,
        governor: true,
        queueMs: 5_000,
        httpTimeoutMs: 5_000,
        absentAfterMs: 500,
        resolveMs: 30_000,
      },
    });
    // The kill switch must have a state before the signer grants anything.
    const io = recordingIo({
      NATS_URL: natsUrl,
      UPLINE_NAMESPACE: subjects.namespace,
      UPLINE_ACTOR: "trace-test",
    });
    assert.equal(await runCli(["trading", "resume", "--reason", "trace test"], io), 0, io.stderr());
    await exec.start();
    // The private feed must be subscribed before the order fills: reconciliation covers open orders only.
    await eventually(
      () =>
        exec.ready() &&
        signer.ready() &&
        (exec.detail().private_feed as Record<string, string> | undefined)?.main === "open",
      { timeoutMs: 20_000 },
    );
  });

  after(async () => {
    await exec?.stop();
    await signer?.stop();
    await audit?.stop();
    await nc?.drain();
    await sim?.stop();
    await telemetry?.shutdown();
    rmSync(dir, { recursive: true, force: true });
  });

  test("trace - an order placed through the CLI is one trace from the request to the audit store", async () => {
    exporter.reset();
    // A market buy of 10,000 KRW: accepted and filled at once by the simulator (Upbit ends
    // a market buy as partially_filled then cancelled: the event with `fill` is the fill).
    const io = recordingIo({ NATS_URL: natsUrl, UPLINE_NAMESPACE: subjects.namespace });
    const code = await runCli(
      [
        "order",
        "place",
        "--market",
        "KRW-BTC",
        "--side",
        "bid",
        "--type",
        "price",
        "--price",
        "10000",
        "--json",
      ],
      io,
    );
    assert.equal(code, 0, io.stdout() + io.stderr());
    const reply = jsonLines<{
      status: string;
      client_order_id: string;
      uuid: string;
      trace_id: string;
    }>(io.stdout())[0];
    assert.equal(reply?.status, "accepted");
    const traceId = reply?.trace_id ?? "";
    assert.match(traceId, /^[0-9a-f]{32}$/);

    await eventually(() => events.some((e) => e.uuid === reply?.uuid && e.fill !== undefined), {
      timeoutMs: 15_000,
      message: `the fill event (events seen: ${JSON.stringify(events.map((e) => [e.type, e.uuid]))})`,
    });
    const db = await openDb({ url: databaseUrl });
    let rows: Awaited<ReturnType<typeof queryEvents>> = [];
    try {
      rows = await eventually(
        async () => {
          const r = await queryEvents(db, { traceId });
          return (
            r.some((x) => x.service === "order-exec") && r.some((x) => x.service === "signer") && r
          );
        },
        { timeoutMs: 15_000, message: "audit rows with the trace id" },
      );
    } finally {
      await db.close();
    }
    assert.ok(rows.every((r) => r.trace_id === traceId));

    // Every hop of the order's path, as spans of that one trace.
    const spans = exporter
      .getFinishedSpans()
      .filter((s: ReadableSpan) => s.spanContext().traceId === traceId);
    const names = spans.map((s) => s.name);
    // Span names as each part makes them: shared `request`/`serve`, the signer, the audit
    // publisher and store, the REST client (`{method} {route}`), order-exec's event publisher.
    const hops: [string, RegExp][] = [
      ["CLI command (root)", /^upline order place$/],
      ["CLI request", /^request orders\.place$/],
      ["order-exec handling", /^handle (\w+\.)?orders\.v1\.place$/],
      ["signer request", /^request signer\.sign$/],
      ["signer handling", /^handle signer\.sign$/],
      ["audit publish (order-exec, acked before the send)", /^audit publish order_/],
      ["HTTP to the exchange", /^POST \/v1\/orders$/],
      ["order event", /^publish (\w+\.)?orders\.v1\.events\./],
      ["audit store", /^audit store /],
    ];
    const missing = hops.filter(([, re]) => !names.some((n) => re.test(n))).map(([hop]) => hop);
    assert.deepEqual(
      missing,
      [],
      `hops without a span in trace ${traceId}; spans were:\n  ${names.join("\n  ")}`,
    );
    // The fill comes later on the private WebSocket, outside any request: it must still
    // be published in the order's trace.
    const fillSpan = spans.find(
      (s) =>
        /^publish (\w+\.)?orders\.v1\.events\./.test(s.name) &&
        /filled/.test(String(s.attributes["order.event_type"])),
    );
    assert.ok(fillSpan, `no fill event span in the trace; spans were:\n  ${names.join("\n  ")}`);
    const root = spans.find((s) => s.name === "upline order place");
    assert.equal(root?.parentSpanContext, undefined, "the CLI span is the root");
  });
});
