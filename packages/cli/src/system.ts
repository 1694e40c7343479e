/**
 * `pnpm start` (scripts/start.ts): the whole system on one machine, on embedded defaults.
 *
 *   - the exchange: the Upbit simulator in this process (or real Upbit when
 *     UPLINE_UPBIT_ACCESS_KEY, UPLINE_UPBIT_SECRET_KEY and UPLINE_UPBIT_REGION are set);
 *   - NATS: NATS_URL, or a nats-server started for the run (from PATH, else a
 *     container through docker/podman), with JetStream data under .data/nats;
 *   - audit in embedded PGlite under .data/audit (DATABASE_URL: PostgreSQL instead);
 *   - the four services as supervised child processes with prefixed logs.
 *
 * Generated for the run, under .data/run (git-ignored, files 0600, never
 * printed, removed on stop): the signer's key file for the exchange account,
 * its callers file with order-exec's and the operator's Ed25519 public keys,
 * their private JWKs, and run.json — the CLI's defaults (NATS, namespace,
 * operator key, health URLs), so `upline …` works with nothing exported.
 *
 * Supervision: a service that exits is restarted with exponential backoff
 * (1 s doubling to 30 s; reset after 60 s up); five exits within two minutes
 * stop everything (exit 1). Ctrl-C / SIGTERM: SIGTERM to every service
 * (order-exec and market-feed, then the signer, then audit, so the last audit
 * events are stored), up to 10 s each, then SIGKILL; then the simulator and
 * nats-server. A second Ctrl-C kills everything at once.
 */

import { type ChildProcess, spawn } from "node:child_process";
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { accessSync, constants, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { delimiter, join, resolve } from "node:path";
import { performance } from "node:perf_hooks";
import { createInterface } from "node:readline";
import { setTimeout as delay } from "node:timers/promises";
import { Kvm } from "@nats-io/kv";
import { SIGNER_ENDPOINTS } from "@upline/order-exec";
import {
  connectBus,
  createLogger,
  createSubjects,
  ensureStreams,
  env,
  isUplineError,
  loadConfig,
  natsEnvSchema,
} from "@upline/shared";
import { type Sim, startSim } from "@upline/upbit-sim";
import { z } from "zod";

const root = resolve(import.meta.dirname, "../../..");

const startEnvSchema = z.object({
  ...natsEnvSchema,
  NATS_URL: z
    .string()
    .optional()
    .describe("use this NATS server; unset: start nats-server (PATH) or a container for the run"),
  NATS_IMAGE: z.string().default("nats:2.11").describe("image when NATS runs in a container"),
  UPLINE_DATA_DIR: z
    .string()
    .default(".data")
    .describe("where run files, NATS and audit data live"),
  UPLINE_MARKETS: z
    .string()
    .default("KRW-BTC,KRW-ETH")
    .describe("markets the feed publishes and orders may use"),
  UPLINE_SIM_PORT: env.int("simulator port (0: a free one)", 0, 65535).default(0),
  UPLINE_LOG_LEVEL: z
    .enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"])
    .default("info")
    .describe("services' log level"),
  UPLINE_LOG_FORMAT: z.enum(["pretty", "json"]).default("pretty").describe("service log lines"),
  UPLINE_READY_TIMEOUT_S: env.int("give up if not ready within", 5, 600).default(60),
  UPLINE_UPBIT_ACCESS_KEY: z
    .string()
    .optional()
    .describe("real Upbit access key (with the secret and region)"),
  UPLINE_UPBIT_SECRET_KEY: z.string().optional().describe("real Upbit secret key"),
  UPLINE_UPBIT_REGION: z
    .enum(["kr", "sg", "id", "th"])
    .optional()
    .describe("real Upbit region: kr (api.upbit.com), sg, id, th"),
  DATABASE_URL: z.string().optional().describe("audit in PostgreSQL instead of embedded PGlite"),
  OTEL_EXPORTER_OTLP_ENDPOINT: z.string().optional().describe("OTLP/HTTP collector for traces"),
});

const SERVICES = ["audit", "signer", "market-feed", "order-exec"] as const;
type ServiceId = (typeof SERVICES)[number];
const WIDTH = Math.max(...SERVICES.map((s) => s.length), "upline".length);

const say = (line: string) => process.stdout.write(`${"upline".padEnd(WIDTH)} │ ${line}\n`);
const shout = (line: string) => process.stderr.write(`${"upline".padEnd(WIDTH)} │ ${line}\n`);

// ---------------------------------------------------------------- helpers

async function freePort(): Promise<number> {
  return new Promise((ok, fail) => {
    const srv = createServer();
    srv.once("error", fail);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => ok(port));
    });
  });
}

function onPath(name: string, pathVar: string | undefined): string | undefined {
  for (const dir of (pathVar ?? "").split(delimiter)) {
    if (dir === "") continue;
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

function writeSecret(path: string, content: unknown): void {
  writeFileSync(path, `${JSON.stringify(content, null, 2)}\n`, { mode: 0o600 });
}

/** One service log line, compact: `12:00:01 INFO message key=value`. */
function prettyLine(line: string): string {
  if (!line.startsWith("{")) return line;
  try {
    const o = JSON.parse(line) as Record<string, unknown>;
    const {
      time,
      level,
      msg,
      service: _s,
      name: _n,
      pid: _p,
      hostname: _h,
      span_id: _sp,
      ...rest
    } = o;
    const extra = Object.entries(rest)
      .map(([k, v]) => `${k}=${typeof v === "string" ? v : JSON.stringify(v)}`)
      .join(" ");
    const t = typeof time === "string" ? time.slice(11, 19) : "";
    return `${t} ${String(level ?? "")
      .toUpperCase()
      .padEnd(5)} ${String(msg ?? "")}${extra ? `  ${extra}` : ""}`;
  } catch {
    return line;
  }
}

// ---------------------------------------------------------------- NATS

interface NatsHandle {
  readonly url: string;
  readonly how: string;
  readonly stop: () => Promise<void>;
  readonly pid?: number;
}

/** Waits for a line matching `ready` on the child's stderr/stdout, or its exit. */
function waitForLine(
  child: ChildProcess,
  ready: RegExp,
  timeoutMs: number,
  what: string,
): Promise<void> {
  return new Promise((ok, fail) => {
    const timer = setTimeout(
      () => fail(new Error(`${what} did not report ready within ${timeoutMs} ms`)),
      timeoutMs,
    );
    const seen: string[] = [];
    const onLine = (line: string) => {
      seen.push(line);
      if (seen.length > 20) seen.shift();
      if (ready.test(line)) {
        clearTimeout(timer);
        ok();
      }
    };
    for (const stream of [child.stdout, child.stderr])
      if (stream) createInterface({ input: stream }).on("line", onLine);
    child.once("exit", (code) => {
      clearTimeout(timer);
      fail(new Error(`${what} exited with code ${code}:\n${seen.join("\n")}`));
    });
  });
}

async function stopChild(child: ChildProcess, graceMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((ok) => child.once("exit", () => ok()));
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
  await exited;
  clearTimeout(timer);
}

async function startNatsForRun(
  cfg: z.infer<typeof startEnvSchema>,
  dataDir: string,
  children: Set<ChildProcess>,
): Promise<NatsHandle> {
  if (cfg.NATS_URL !== undefined)
    return { url: cfg.NATS_URL, how: "given by NATS_URL", stop: async () => undefined };
  const port = await freePort();
  const binary = onPath("nats-server", process.env.PATH);
  if (binary !== undefined) {
    const store = join(dataDir, "nats");
    mkdirSync(store, { recursive: true });
    const child = spawn(binary, ["-js", "-sd", store, "-a", "127.0.0.1", "-p", String(port)], {
      stdio: ["ignore", "pipe", "pipe"],
      detached: true,
    });
    children.add(child);
    await waitForLine(child, /Server is ready/, 15_000, "nats-server");
    return {
      url: `nats://127.0.0.1:${port}`,
      how: `nats-server ${binary} (pid ${child.pid}, data ${store})`,
      pid: child.pid,
      stop: () => stopChild(child, 5_000),
    };
  }
  const engine = onPath("docker", process.env.PATH) ?? onPath("podman", process.env.PATH);
  if (engine !== undefined) {
    const name = `upline-nats-${process.pid}`;
    const child = spawn(
      engine,
      ["run", "--rm", "--name", name, "-p", `127.0.0.1:${port}:4222`, cfg.NATS_IMAGE, "-js"],
      { stdio: ["ignore", "pipe", "pipe"], detached: true },
    );
    children.add(child);
    await waitForLine(child, /Server is ready/, 120_000, `NATS container (${cfg.NATS_IMAGE})`);
    return {
      url: `nats://127.0.0.1:${port}`,
      how: `container ${name} from ${cfg.NATS_IMAGE} through ${engine}`,
      stop: async () => {
        await new Promise<void>((ok) =>
          spawn(engine, ["stop", "-t", "2", name], { stdio: "ignore" }).once("exit", () => ok()),
        );
        await stopChild(child, 5_000);
      },
    };
  }
  throw new StartError(
    "NATS is needed and none was found. Do one of:\n" +
      "  - set NATS_URL=nats://host:4222 to use a running server (JetStream enabled);\n" +
      "  - install nats-server on PATH (https://github.com/nats-io/nats-server/releases, `brew install nats-server`, `apt install nats-server`);\n" +
      "  - install docker or podman: a nats container is started for the run.",
  );
}

class StartError extends Error {
  override readonly name = "StartError";
  readonly code = "START_FAILED" as const;
}

// ---------------------------------------------------------------- supervisor

interface Supervised {
  readonly id: ServiceId;
  readonly healthUrl: string;
  child?: ChildProcess;
  startedAt: number;
  exits: number[];
  backoffMs: number;
  restartTimer?: NodeJS.Timeout;
}

/**
 * Runs the whole system until SIGINT/SIGTERM (see the module comment). Sets
 * `process.exitCode`: 0 after a clean stop, 1 if start-up failed or a service
 * kept crashing.
 */
export async function runSystem(): Promise<void> {
  const t0 = performance.now();
  const cfg = loadConfig(startEnvSchema, process.env);
  const dataDir = resolve(root, cfg.UPLINE_DATA_DIR);
  const runDir = join(dataDir, "run");
  rmSync(runDir, { recursive: true, force: true });
  mkdirSync(join(runDir, "keys"), { recursive: true, mode: 0o700 });
  const children = new Set<ChildProcess>();
  // Whatever happens to this process, no child outlives it.
  process.on("exit", () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
  });

  let stopping: Promise<void> | undefined;
  let sim: Sim | undefined;
  let nats: NatsHandle | undefined;
  const supervised: Supervised[] = [];

  const shutdown = (why: string, code: number): Promise<void> => {
    stopping ??= (async () => {
      say(`stopping (${why})…`);
      for (const s of supervised) if (s.restartTimer) clearTimeout(s.restartTimer);
      const stopGroup = (ids: readonly ServiceId[]) =>
        Promise.all(
          supervised
            .filter((s) => ids.includes(s.id) && s.child !== undefined)
            .map((s) => stopChild(s.child as ChildProcess, 10_000)),
        );
      await stopGroup(["order-exec", "market-feed"]);
      await stopGroup(["signer"]);
      await stopGroup(["audit"]);
      await sim?.stop();
      await nats?.stop();
      rmSync(runDir, { recursive: true, force: true });
      say(
        `stopped; ${cfg.DATABASE_URL ? "audit in DATABASE_URL" : `audit log kept in ${join(dataDir, "audit")}`}`,
      );
      process.exitCode = code;
    })();
    return stopping;
  };
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    signals++;
    if (signals > 1) {
      shout(`${signal} again: killing everything now`);
      for (const c of children) c.kill("SIGKILL");
      process.exit(1);
    }
    void shutdown(signal, 0);
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);

  try {
    // -------------------------------------------------- keys for the run
    const real =
      cfg.UPLINE_UPBIT_ACCESS_KEY !== undefined &&
      cfg.UPLINE_UPBIT_SECRET_KEY !== undefined &&
      cfg.UPLINE_UPBIT_REGION !== undefined;
    if (
      !real &&
      (cfg.UPLINE_UPBIT_ACCESS_KEY ?? cfg.UPLINE_UPBIT_SECRET_KEY ?? cfg.UPLINE_UPBIT_REGION) !==
        undefined
    )
      throw new StartError(
        "real Upbit needs all three of UPLINE_UPBIT_ACCESS_KEY, UPLINE_UPBIT_SECRET_KEY and UPLINE_UPBIT_REGION; unset them all to use the simulator",
      );
    const markets = cfg.UPLINE_MARKETS.split(",")
      .map((m) => m.trim())
      .filter((m) => m !== "");
    const accessKey = real
      ? (cfg.UPLINE_UPBIT_ACCESS_KEY as string)
      : `sim-${randomBytes(16).toString("hex")}`;
    const secretKey = real
      ? (cfg.UPLINE_UPBIT_SECRET_KEY as string)
      : randomBytes(32).toString("base64url");
    const keysDir = join(runDir, "keys");
    writeSecret(join(keysDir, "main.json"), {
      key_id: "main",
      version: 1,
      access_key: accessKey,
      secret_key: secretKey,
      account: "main",
      scopes: ["view_accounts", "make_orders", "view_orders"],
    });
    const pair = () => {
      const { privateKey, publicKey } = generateKeyPairSync("ed25519");
      return {
        priv: privateKey.export({ format: "jwk" }),
        pub: publicKey.export({ format: "jwk" }),
      };
    };
    const orderExecKey = pair();
    const operatorKey = pair();
    const orderExecKeyFile = join(runDir, "order-exec.jwk");
    const operatorKeyFile = join(runDir, "operator.jwk");
    writeSecret(orderExecKeyFile, orderExecKey.priv);
    writeSecret(operatorKeyFile, operatorKey.priv);
    const callersFile = join(runDir, "callers.json");
    writeSecret(callersFile, {
      callers: [
        {
          id: "order-exec",
          public_jwk: orderExecKey.pub,
          keys: ["main"],
          endpoints: SIGNER_ENDPOINTS,
          markets,
        },
        { id: "operator", public_jwk: operatorKey.pub, admin: true },
      ],
    });

    // -------------------------------------------------- exchange
    let restUrl: string;
    let wsUrl: string;
    let privateWsUrl: string;
    let exchangeNote: string;
    if (real) {
      const host =
        cfg.UPLINE_UPBIT_REGION === "kr"
          ? "api.upbit.com"
          : `${cfg.UPLINE_UPBIT_REGION}-api.upbit.com`;
      restUrl = `https://${host}`;
      wsUrl = `wss://${host}/websocket/v1`;
      privateWsUrl = `wss://${host}/websocket/v1/private`;
      exchangeNote = `REAL Upbit (${cfg.UPLINE_UPBIT_REGION}): ${restUrl} — orders are real`;
    } else {
      sim = await startSim({
        port: cfg.UPLINE_SIM_PORT,
        markets,
        accounts: [{ accessKey, secretKey, balances: { KRW: "100000000", BTC: "1", ETH: "10" } }],
        tickIntervalMs: 250,
        admin: true,
      });
      restUrl = sim.restUrl;
      wsUrl = sim.wsUrl;
      privateWsUrl = sim.privateWsUrl;
      exchangeNote = `upbit-sim  REST ${sim.restUrl}/v1  WS ${sim.wsUrl}  admin ${sim.adminUrl ?? "-"}`;
    }

    // -------------------------------------------------- NATS, streams, kill switch
    nats = await startNatsForRun(cfg, dataDir, children);
    const bus = { ...cfg, NATS_URL: nats.url };
    const nc = await connectBus(bus, {
      name: "upline-start",
      logger: createLogger({ service: "cli", level: "silent" }),
      firstConnectTimeoutMs: 10_000,
      waitOnFirstConnect: false,
    });
    const subjects = createSubjects(cfg.UPLINE_NAMESPACE ?? "");
    try {
      await ensureStreams(nc, subjects);
      // The signer grants nothing until the kill switch has a state: start active
      // unless an operator already set one (it persists with NATS's data).
      const kv = await new Kvm(nc).open(subjects.buckets.control);
      await kv
        .create(
          subjects.controlTradingKey,
          JSON.stringify({
            state: "active",
            reason: "initial state set by pnpm start",
            actor: "pnpm-start",
            updated_at: new Date().toISOString(),
          }),
        )
        .catch(() => undefined);
    } finally {
      await nc.drain();
    }

    // -------------------------------------------------- services
    const common: Record<string, string> = {
      PATH: process.env.PATH ?? "",
      HOME: process.env.HOME ?? "",
      NATS_URL: nats.url,
      LOG_LEVEL: cfg.UPLINE_LOG_LEVEL,
    };
    for (const k of [
      "NATS_USER",
      "NATS_PASSWORD",
      "NATS_TOKEN",
      "NATS_NKEY_SEED",
      "NATS_CREDS_FILE",
      "UPLINE_NAMESPACE",
      "OTEL_EXPORTER_OTLP_ENDPOINT",
      "TMPDIR",
      "LANG",
      "TZ",
    ] as const)
      if (process.env[k]) common[k] = process.env[k] as string;
    const own: Record<ServiceId, Record<string, string>> = {
      audit: {
        AUDIT_DATA_DIR: join(dataDir, "audit"),
        ...(cfg.DATABASE_URL ? { DATABASE_URL: cfg.DATABASE_URL } : {}),
      },
      signer: { SIGNER_KEYS_DIR: keysDir, SIGNER_CALLERS_FILE: callersFile },
      "market-feed": {
        UPBIT_WS_URL: wsUrl,
        UPBIT_REST_URL: restUrl,
        FEED_MARKETS: markets.join(","),
      },
      "order-exec": {
        UPBIT_REST_URL: restUrl,
        UPBIT_PRIVATE_WS_URL: privateWsUrl,
        ORDER_EXEC_CALLER_KEY_FILE: orderExecKeyFile,
        ORDER_EXEC_ACCOUNTS: JSON.stringify({ main: "main" }),
        ORDER_EXEC_MARKETS: markets.join(","),
        ...(real && cfg.UPLINE_UPBIT_REGION !== "kr" ? { ORDER_EXEC_ORDER_LIMIT: "8" } : {}),
      },
    };
    // A service's own tuning variables in this environment pass through (e.g. ORDER_EXEC_MAX_ORDERS_PER_S).
    const prefixes: Record<ServiceId, string> = {
      audit: "AUDIT_",
      signer: "SIGNER_",
      "market-feed": "FEED_",
      "order-exec": "ORDER_EXEC_",
    };
    for (const id of SERVICES)
      for (const [k, v] of Object.entries(process.env))
        if (k.startsWith(prefixes[id]) && v !== undefined && !(k in own[id])) own[id][k] = v;

    for (const id of SERVICES) {
      supervised.push({
        id,
        healthUrl: "",
        startedAt: 0,
        exits: [],
        backoffMs: 1_000,
      });
    }
    for (const s of supervised) {
      const port = await freePort();
      Object.assign(s, { healthUrl: `http://127.0.0.1:${port}` });
      own[s.id].HEALTH_PORT = String(port);
    }

    const launch = (s: Supervised) => {
      const child = spawn(process.execPath, [join(root, "services", s.id, "src", "main.ts")], {
        cwd: root,
        env: { ...common, ...own[s.id] },
        stdio: ["ignore", "pipe", "pipe"],
        detached: true,
      });
      children.add(child);
      s.child = child;
      s.startedAt = Date.now();
      const prefix = `${s.id.padEnd(WIDTH)} │ `;
      const pipe = (input: NodeJS.ReadableStream, out: NodeJS.WriteStream) =>
        createInterface({ input }).on("line", (line) =>
          out.write(`${prefix}${cfg.UPLINE_LOG_FORMAT === "json" ? line : prettyLine(line)}\n`),
        );
      if (child.stdout) pipe(child.stdout, process.stdout);
      if (child.stderr) pipe(child.stderr, process.stderr);
      child.once("exit", (code, signal) => {
        children.delete(child);
        if (stopping) return;
        const now = Date.now();
        if (now - s.startedAt > 60_000) s.backoffMs = 1_000;
        s.exits = [...s.exits.filter((t) => now - t < 120_000), now];
        if (s.exits.length >= 5) {
          shout(
            `${s.id} exited ${s.exits.length} times within 2 min (last: ${signal ?? `code ${code}`}): stopping everything`,
          );
          void shutdown(`${s.id} keeps crashing`, 1);
          return;
        }
        shout(
          `${s.id} exited (${signal ?? `code ${code}`}); restarting in ${s.backoffMs / 1000} s`,
        );
        s.restartTimer = setTimeout(() => launch(s), s.backoffMs);
        s.backoffMs = Math.min(s.backoffMs * 2, 30_000);
      });
    };
    for (const s of supervised) launch(s);

    // -------------------------------------------------- ready?
    const deadline = Date.now() + cfg.UPLINE_READY_TIMEOUT_S * 1000;
    const notReady = async () => {
      const states = await Promise.all(
        supervised.map(async (s) => {
          try {
            const r = await fetch(`${s.healthUrl}/readyz`, { signal: AbortSignal.timeout(1_000) });
            await r.body?.cancel();
            return r.status === 200 ? undefined : s.id;
          } catch {
            return s.id;
          }
        }),
      );
      return states.filter((x) => x !== undefined);
    };
    for (;;) {
      if (stopping) return;
      const waiting = await notReady();
      if (waiting.length === 0) break;
      if (Date.now() > deadline) {
        shout(
          `not ready after ${cfg.UPLINE_READY_TIMEOUT_S} s: ${waiting.join(", ")} (see their log lines above)`,
        );
        await shutdown("start-up failed", 1);
        return;
      }
      // Readiness is polled: the services expose it over HTTP only.
      await delay(200);
    }

    const healthUrls = supervised.map((s) => `${s.id}=${s.healthUrl}`).join(",");
    const runEnv: Record<string, string> = {
      NATS_URL: nats.url,
      UPLINE_OPERATOR_ID: "operator",
      UPLINE_OPERATOR_KEY_FILE: operatorKeyFile,
      UPLINE_ACCOUNT: "main",
      UPLINE_HEALTH_URLS: healthUrls,
      AUDIT_DATA_DIR: join(dataDir, "audit"),
      ...(cfg.UPLINE_NAMESPACE ? { UPLINE_NAMESPACE: cfg.UPLINE_NAMESPACE } : {}),
    };
    writeSecret(join(runDir, "run.json"), {
      started_at: new Date().toISOString(),
      supervisor_pid: process.pid,
      env: runEnv,
      pids: Object.fromEntries(supervised.map((s) => [s.id, s.child?.pid])),
      nats_pid: nats.pid,
      exchange: { rest: restUrl, ws: wsUrl, private_ws: privateWsUrl, admin: sim?.adminUrl },
    });
    const seconds = ((performance.now() - t0) / 1000).toFixed(1);
    const cli = "node packages/cli/src/main.ts";
    const lines = [
      `ready in ${seconds} s`,
      `  NATS        ${nats.url}  (${nats.how})${cfg.UPLINE_NAMESPACE ? `  namespace ${cfg.UPLINE_NAMESPACE}` : ""}`,
      `  exchange    ${exchangeNote}`,
      `  audit       ${cfg.DATABASE_URL ? "PostgreSQL (DATABASE_URL)" : `PGlite ${join(dataDir, "audit")}`}`,
      `  traces      ${cfg.OTEL_EXPORTER_OTLP_ENDPOINT ? `exported to ${cfg.OTEL_EXPORTER_OTLP_ENDPOINT}` : "not exported (set OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318, e.g. Jaeger)"}`,
      ...supervised.map((s) => `  ${s.id.padEnd(11)} ${s.healthUrl}/readyz  (pid ${s.child?.pid})`),
      `  run files   ${runDir} (keys 0600; removed on stop)`,
      "try next:",
      `  ${cli} status`,
      `  ${cli} order place --market ${markets[0]} --side bid --price 90000000 --volume 0.0001`,
      `  ${cli} order list`,
      `  ${cli} feed watch ${markets[0]}`,
      `  ${cli} trading halt --reason "testing the kill switch"`,
      `  ${cli} keys list`,
      `  Ctrl-C stops everything; then: ${cli} audit verify${cfg.UPLINE_DATA_DIR === ".data" ? "" : ` --data-dir ${join(dataDir, "audit")}`}`,
    ];
    for (const l of lines) say(l);
  } catch (err) {
    const text =
      isUplineError(err) || err instanceof StartError
        ? `${err.message}`
        : ((err as Error)?.stack ?? String(err));
    shout(`cannot start: ${text}`);
    await shutdown("start-up failed", 1);
  }
}
