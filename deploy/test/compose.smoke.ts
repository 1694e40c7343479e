/**
 * The docker-compose stack, end to end (`pnpm test:deploy`; not in `pnpm test`: it
 * builds every image and runs the whole system, a few minutes on a cold machine).
 * Builds the images against NODE_IMAGE, brings the stack up with fresh secrets,
 * waits until every service is healthy, then: a ticker arrives on NATS; an order
 * placed with `upline order place` lands in the simulator; the audit chain in the
 * stack's PostgreSQL verifies and holds the order's rows; the order's trace reaches
 * the collector's file; `docker-compose down -v` removes everything.
 *
 * NATS_IMAGE / POSTGRES_IMAGE / NODE_IMAGE name the base images (CI: the stand-ins);
 * OTEL_COLLECTOR_IMAGE the collector — unset, the OTLP file receiver stand-in is built.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { connect, usernamePasswordAuthenticator } from "@nats-io/transport-node";
import { eventually } from "@upline/testkit";
import pg from "pg";
import { writeDevSecrets } from "../scripts/dev-secrets.ts";
import {
  buildOtlpReceiver,
  buildService,
  cli,
  describeFailure,
  engine,
  exec,
  imageTag,
  repoRoot,
  SERVICES,
} from "./engine.ts";

const project = `uplinesmoke${randomBytes(3).toString("hex")}`;
const secretsRoot = mkdtempSync(join(tmpdir(), "upline-smoke-"));
const TAG = "smoke";
const APP_SERVICES = ["signer", "order-exec", "market-feed", "audit"] as const;

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

const compose = (() => {
  const v1 = exec("sh", ["-c", "command -v docker-compose"]);
  return async (args: string[], env: NodeJS.ProcessEnv, timeoutMs = 600_000) =>
    (await v1).code === 0
      ? exec("docker-compose", ["-p", project, ...args], { env, timeoutMs })
      : exec("docker", ["compose", "-p", project, ...args], { env, timeoutMs });
})();

let env: NodeJS.ProcessEnv;
let secrets: Record<string, string>;
let ports: Record<"nats" | "postgres" | "sim" | "otel", number>;
let healthTicker: NodeJS.Timeout | undefined;
/** Tests that finished; fewer than all means the services' logs are printed at the end. */
let passed = 0;
const TESTS = 2;

async function containerOf(service: string): Promise<string> {
  const r = await cli([
    "ps",
    "-a",
    "-q",
    "--filter",
    `label=com.docker.compose.project=${project}`,
    "--filter",
    `label=com.docker.compose.service=${service}`,
  ]);
  const id = r.stdout.trim().split("\n")[0];
  assert.ok(id, `a container for ${service}`);
  return id;
}

async function health(service: string): Promise<string> {
  const r = await cli([
    "inspect",
    "--format",
    "{{.State.Health.Status}}",
    await containerOf(service),
  ]);
  return r.stdout.trim();
}

/**
 * Podman schedules health checks with systemd timers; where there is no systemd (CI
 * containers) nothing runs them, and `depends_on: service_healthy` would wait
 * forever. This runs each container's own health check once a second instead.
 */
function startHealthTicker(): void {
  if (engine !== "podman" || existsSync("/run/systemd/system")) return;
  let busy = false;
  healthTicker = setInterval(() => {
    if (busy) return;
    busy = true;
    void (async () => {
      const ids = await cli([
        "ps",
        "-q",
        "--filter",
        `label=com.docker.compose.project=${project}`,
      ]);
      await Promise.all(
        ids.stdout
          .split("\n")
          .filter((id) => id !== "")
          .map((id) => cli(["healthcheck", "run", id], { timeoutMs: 10_000 })),
      );
    })().finally(() => {
      busy = false;
    });
  }, 1_000);
}

before(async () => {
  const dir = writeDevSecrets({ dir: join(secretsRoot, "secrets") });
  secrets = { ...dir.env };
  ports = {
    nats: await freePort(),
    postgres: await freePort(),
    sim: await freePort(),
    otel: await freePort(),
  };
  for (const service of SERVICES) {
    const r = await buildService(service, TAG);
    assert.equal(r.code, 0, describeFailure(`build of ${service}`, r));
  }
  let collector = process.env.OTEL_COLLECTOR_IMAGE;
  if (collector === undefined) {
    const r = await buildOtlpReceiver(TAG);
    assert.equal(r.code, 0, describeFailure("build of the OTLP receiver", r));
    collector = imageTag("otlp-file-receiver", TAG);
  }
  const natsImage = process.env.NATS_IMAGE ?? "nats:2.10-alpine";
  env = {
    ...process.env,
    ...secrets,
    UPLINE_SECRETS_DIR: dir.dir,
    UPLINE_IMAGE_PREFIX: "localhost/upline/",
    UPLINE_TAG: TAG,
    NATS_IMAGE: natsImage,
    POSTGRES_IMAGE: process.env.POSTGRES_IMAGE ?? "postgres:17",
    OTEL_COLLECTOR_IMAGE: collector,
    NATS_PORT: String(ports.nats),
    POSTGRES_PORT: String(ports.postgres),
    UPBIT_SIM_PORT: String(ports.sim),
    OTEL_HTTP_PORT: String(ports.otel),
    UPBIT_SIM_TICK_MS: "200",
    // The Debian stand-in has neither wget nor curl: ask /healthz through bash.
    ...(natsImage.startsWith("localhost/upline-standin/")
      ? {
          NATS_HEALTHCHECK:
            "bash -c 'exec 3<>/dev/tcp/127.0.0.1/8222 && printf \"GET /healthz HTTP/1.0\\r\\n\\r\\n\" >&3 && grep -q ok <&3'",
        }
      : {}),
  };
  startHealthTicker();
  const up = await compose(["up", "-d", "--no-build"], env);
  assert.equal(up.code, 0, describeFailure("docker-compose up", up));
  await eventually(
    async () => {
      for (const s of [...APP_SERVICES, "upbit-sim", "nats", "postgres"]) {
        assert.equal(await health(s), "healthy", `${s} is healthy`);
      }
      return true;
    },
    { timeoutMs: 180_000, intervalMs: 1_000, message: "every service became healthy" },
  );
});

after(async () => {
  if (healthTicker) clearInterval(healthTicker);
  if (env) {
    if (passed < TESTS) {
      const logs = await compose(["logs", "--no-color", "--tail", "40"], env);
      process.stderr.write(`${logs.stdout}${logs.stderr}`);
    }
    const down = await compose(["down", "-v", "--timeout", "10"], env);
    assert.equal(down.code, 0, describeFailure("docker-compose down -v", down));
  }
  rmSync(secretsRoot, { recursive: true, force: true });
});

describe("docker-compose stack", { concurrency: 1 }, () => {
  test("compose - a ticker from the simulator arrives on NATS", async () => {
    const nc = await connect({
      servers: `nats://127.0.0.1:${ports.nats}`,
      authenticator: usernamePasswordAuthenticator("strategy", secrets.NATS_PASSWORD_STRATEGY!),
      inboxPrefix: "_INBOX.strategy",
    });
    try {
      const sub = nc.subscribe("md.v1.upbit.ticker.>", { max: 1, timeout: 60_000 });
      for await (const m of sub) {
        const tick = m.json<{ market?: string; type?: string }>();
        assert.match(m.subject, /^md\.v1\.upbit\.ticker\.KRW-/);
        assert.ok(tick.market?.startsWith("KRW-"), "a normalized ticker");
      }
    } finally {
      await nc.close();
    }
    passed++;
  });

  test("compose - an order placed with the CLI lands in the simulator, audited and traced", async () => {
    const ticker = (await (
      await fetch(`http://127.0.0.1:${ports.sim}/v1/ticker?markets=KRW-BTC`)
    ).json()) as { trade_price: number }[];
    // A bid well under the market rests in the book; 1000 KRW is BTC's tick there.
    const price = String(Math.floor((ticker[0]!.trade_price * 0.9) / 1000) * 1000);
    const clientOrderId = `smoke-${randomBytes(4).toString("hex")}`;
    const placed = await exec(
      process.execPath,
      [
        "packages/cli/src/main.ts",
        "order",
        "place",
        "--market",
        "KRW-BTC",
        "--side",
        "bid",
        "--type",
        "limit",
        "--price",
        price,
        "--volume",
        "0.001",
        "--client-order-id",
        clientOrderId,
        "--json",
      ],
      {
        timeoutMs: 60_000,
        env: {
          ...process.env,
          NATS_URL: `nats://127.0.0.1:${ports.nats}`,
          NATS_USER: "admin",
          NATS_PASSWORD: secrets.NATS_PASSWORD_ADMIN!,
          NATS_INBOX_PREFIX: "_INBOX.admin",
          OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${ports.otel}`,
          UPLINE_RUN_FILE: join(secretsRoot, "no-run-file.json"),
        },
      },
    );
    assert.equal(placed.code, 0, describeFailure("upline order place", placed));
    const reply = JSON.parse(placed.stdout) as { status: string; trace_id: string };
    assert.equal(reply.status, "accepted");
    assert.match(reply.trace_id, /^[0-9a-f]{32}$/);
    assert.notEqual(reply.trace_id, "0".repeat(32));

    // The simulator holds the order under its identifier.
    await eventually(
      async () => {
        const res = await fetch(`http://127.0.0.1:${ports.sim}/_admin/orders`);
        const orders = (await res.json()) as { identifier?: string }[];
        return orders.some((o) => o.identifier === clientOrderId);
      },
      { timeoutMs: 30_000, intervalMs: 250, message: "the order reached the simulator" },
    );

    // Its audit rows are stored with its trace id, and the whole chain verifies.
    const databaseUrl = `postgres://upline:${secrets.POSTGRES_PASSWORD}@127.0.0.1:${ports.postgres}/upline`;
    const db = new pg.Client({ connectionString: databaseUrl });
    await db.connect();
    try {
      await eventually(
        async () => {
          const r = await db.query(
            "select count(*)::int as n from audit_events where trace_id = $1",
            [reply.trace_id],
          );
          return r.rows[0].n > 0;
        },
        { timeoutMs: 30_000, intervalMs: 250, message: "the order's audit rows were stored" },
      );
    } finally {
      await db.end();
    }
    const verified = await exec(
      process.execPath,
      ["packages/cli/src/main.ts", "audit", "verify", "--database-url", databaseUrl, "--json"],
      { timeoutMs: 60_000, cwd: repoRoot },
    );
    assert.equal(verified.code, 0, describeFailure("upline audit verify", verified));

    // The trace reached the collector's file exporter.
    const collector = await containerOf("otel-collector");
    const out = join(secretsRoot, "traces.jsonl");
    await eventually(
      async () => {
        const cp = await cli(["cp", `${collector}:/var/lib/otel/traces.jsonl`, out]);
        assert.equal(cp.code, 0, describeFailure("copy of the collector's file", cp));
        const text = readFileSync(out, "utf8");
        // OTLP/JSON spells trace ids as lower-case hex.
        return text.includes(reply.trace_id) && text.includes("order-exec");
      },
      { timeoutMs: 60_000, intervalMs: 1_000, message: "the order's trace reached the collector" },
    );
    passed++;
  });
});
