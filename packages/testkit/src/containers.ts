/**
 * Real NATS (JetStream on) and PostgreSQL for integration tests, started through
 * Testcontainers, or taken from NATS_URL / DATABASE_URL. A test run shares one
 * server of each (started by the global set-up); a test that stops or restarts
 * its server asks for a dedicated one.
 */
import { randomBytes } from "node:crypto";
import { createServer } from "node:net";
import pg from "pg";
import {
  GenericContainer,
  type StartedTestContainer,
  Wait,
  type WaitStrategy,
} from "testcontainers";
import { testkitConfig } from "./config.ts";

const LOOPBACK = "127.0.0.1";

export interface ManagedServer {
  readonly url: string;
  /** The container's id, or undefined when the server was given by URL. */
  readonly containerId: string | undefined;
  /** Stops the server (a no-op for a shared or given one). */
  readonly stop: () => Promise<void>;
  /** Restarts the server on the same port, keeping its data (dedicated servers only). */
  readonly restart: () => Promise<void>;
  /** Stops the server without removing it; `start()` brings it back (dedicated only). */
  readonly pause: () => Promise<void>;
  readonly resume: () => Promise<void>;
}

export interface StartOptions {
  /** A server of this test's own, which it may stop and restart. */
  readonly dedicated?: boolean;
}

export interface StartNatsOptions extends StartOptions {
  /**
   * A nats-server configuration file's text (implies a dedicated server): copied into
   * the container and passed with `-c` alone, so it must listen on 4222 and turn
   * JetStream on itself.
   */
  readonly config?: string;
  /** Further files beside the configuration (for its `include`s), by file name. */
  readonly configFiles?: Readonly<Record<string, string>>;
  /** The server's environment (the configuration's `$VARIABLE`s, e.g. passwords). */
  readonly environment?: Readonly<Record<string, string>>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, LOOPBACK, () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

function given(url: string): ManagedServer {
  const notManaged = async () => {
    throw new Error(
      `the server at ${url} was given, not started by the testkit: ask for { dedicated: true }`,
    );
  };
  return {
    url,
    containerId: undefined,
    stop: async () => undefined,
    restart: notManaged,
    pause: notManaged,
    resume: notManaged,
  };
}

/** Resolves once the server answers a real request (not just an open port). */
type ReadyProbe = () => Promise<void>;

function managed(
  container: StartedTestContainer,
  url: string,
  label: string,
  probe: ReadyProbe,
): ManagedServer {
  let stopped: Promise<void> | undefined;
  const docker = async (action: "stop" | "start") => {
    // A stop/start through the engine keeps the container, its data and its port binding.
    const { getContainerRuntimeClient } = await import("testcontainers");
    const client = await getContainerRuntimeClient();
    const c = client.container.getById(container.getId());
    if (action === "stop") await client.container.stop(c, { timeout: 0 });
    else await client.container.start(c);
  };
  return {
    url,
    containerId: container.getId(),
    stop: () => {
      stopped ??= container.stop({ timeout: 0 }).then(() => undefined);
      return stopped;
    },
    // Not testcontainers' restart(): it waits for the start-up log line again,
    // and podman's logs-since can miss it, which fails the wait after 60 s and
    // removes the container. Stop and start through the engine, then probe.
    restart: async () => {
      await docker("stop");
      await docker("start");
      await waitUntilReady(probe, label);
    },
    pause: () => docker("stop"),
    resume: async () => {
      await docker("start");
      await waitUntilReady(probe, label);
    },
  };
}

async function waitUntilReady(probe: ReadyProbe, label: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await probe();
      return;
    } catch (err) {
      if (Date.now() > deadline)
        throw new Error(`${label} did not become ready again`, { cause: err });
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function tcpProbe(url: string): Promise<void> {
  const { hostname, port } = new URL(url);
  const { connect } = await import("node:net");
  await new Promise<void>((resolve, reject) => {
    const s = connect(Number(port), hostname);
    // A port that accepts but never greets (forwarding set up before the server
    // is back) must fail this attempt, not hang it: the caller retries.
    s.setTimeout(1_000, () => s.destroy(new Error("no greeting within 1 s")));
    s.once("data", () => {
      s.destroy();
      resolve();
    });
    s.once("error", reject);
    s.once("close", () => reject(new Error("closed before the greeting")));
  });
}

async function pgProbe(url: string): Promise<void> {
  const client = new pg.Client({
    connectionString: url,
    connectionTimeoutMillis: 2_000,
    query_timeout: 2_000,
  });
  client.on("error", () => undefined);
  try {
    await client.connect();
    await client.query("select 1");
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * Ready when the server answers its probe, not when a log line is seen: podman's
 * log stream can end before the ready line is read ("Log stream ended"), and
 * then the container is thrown away although the server was fine. A container
 * that exits fails at once, with its state.
 */
class ProbeWait implements WaitStrategy {
  private timeoutMs = 60_000;
  private timeoutSet = false;
  private readonly probe: ReadyProbe;
  private readonly label: string;
  constructor(probe: ReadyProbe, label: string) {
    this.probe = probe;
    this.label = label;
  }

  async waitUntilReady(container: {
    inspect(): Promise<{ State: { Running: boolean; Status: string; ExitCode: number } }>;
  }): Promise<void> {
    const deadline = Date.now() + this.timeoutMs;
    for (;;) {
      try {
        await this.probe();
        return;
      } catch (err) {
        const { State } = await container.inspect();
        if (!State.Running)
          throw new Error(
            `${this.label} container is ${State.Status} (exit code ${State.ExitCode})`,
            {
              cause: err,
            },
          );
        if (Date.now() > deadline)
          throw new Error(`${this.label} did not answer within ${this.timeoutMs} ms`, {
            cause: err,
          });
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  withStartupTimeout(ms: number): this {
    this.timeoutMs = ms;
    this.timeoutSet = true;
    return this;
  }

  isStartupTimeoutSet(): boolean {
    return this.timeoutSet;
  }

  getStartupTimeout(): number {
    return this.timeoutMs;
  }
}

function log(line: string): void {
  process.stderr.write(`testkit: ${line}\n`);
}

/**
 * Starts a container on a free loopback port, once more if the first start
 * fails: under load the engine's log stream can end before the server's
 * ready line is read ("Log stream ended"), which says nothing about the
 * server. A server that really cannot start fails twice, with its error.
 */
async function startContainer(
  label: string,
  build: (hostPort: number) => GenericContainer,
): Promise<{ container: StartedTestContainer; port: number }> {
  let first: unknown;
  for (let attempt = 1; attempt <= 2; attempt++) {
    const port = await freePort();
    try {
      return { container: await build(port).start(), port };
    } catch (err) {
      if (attempt === 2) throw new Error(`${label} container did not start twice`, { cause: err });
      first = err;
      log(`${label} container did not start (${(first as Error).message}); trying once more`);
    }
  }
  throw new Error("unreachable");
}

/**
 * JetStream on, data in /data. Every stream reserves its `max_bytes` against the
 * server's file-store limit, which defaults to a share of the free disk: a test
 * run creates dozens of namespaces (each with MD's 4 GiB and AUDIT's 1 GiB), so
 * without a large limit the tenth namespace is refused with "insufficient
 * storage resources". Tests write megabytes, so the limit is not the disk's.
 */
const DEFAULT_NATS_CONFIG = `listen: 0.0.0.0:4222
jetstream {
  store_dir: /data
  max_file_store: 1T
  max_memory_store: 1G
}
`;

/** Starts a NATS server with JetStream in a container (or returns the run's shared one). */
export async function startNats(options: StartNatsOptions = {}): Promise<ManagedServer> {
  const cfg = testkitConfig();
  if (!options.dedicated && options.config === undefined) {
    const url = cfg.UPLINE_TESTKIT_NATS_URL ?? cfg.NATS_URL;
    if (url) return given(url);
  }
  const dir = "/etc/upline-nats";
  const files = Object.entries({
    ...options.configFiles,
    "nats.conf": options.config ?? DEFAULT_NATS_CONFIG,
  }).map(([name, content]) => ({ content, target: `${dir}/${name}` }));
  const { container, port } = await startContainer("NATS", (hostPort) =>
    new GenericContainer(cfg.NATS_IMAGE)
      .withCommand(["-c", `${dir}/nats.conf`])
      .withCopyContentToContainer(files)
      // One P for Go's scheduler unless told otherwise: on a host whose cores
      // the services share, nats-server then spends ≈ 25 % less CPU per message
      // (docs/notes/issue-5.md), as docker-compose and Kubernetes run it too.
      .withEnvironment({ GOMAXPROCS: cfg.UPLINE_TESTKIT_NATS_GOMAXPROCS, ...options.environment })
      .withExposedPorts({ container: 4222, host: hostPort })
      // NATS greets every client with INFO: data on the socket means it is serving.
      .withWaitStrategy(new ProbeWait(() => tcpProbe(`nats://${LOOPBACK}:${hostPort}`), "NATS"))
      .withStartupTimeout(60_000),
  );
  const url = `nats://${LOOPBACK}:${port}`;
  log(
    `started NATS container ${container.getId().slice(0, 12)} from ${cfg.NATS_IMAGE} through Testcontainers at ${url}`,
  );
  return managed(container, url, "NATS", () => tcpProbe(url));
}

export interface PostgresServer extends ManagedServer {
  /** Creates a fresh database on this server and returns its URL. */
  readonly createDatabase: (prefix?: string) => Promise<string>;
}

const PG_USER = "upline";

/** Starts PostgreSQL in a container (or returns the run's shared one). */
export async function startPostgres(options: StartOptions = {}): Promise<PostgresServer> {
  const cfg = testkitConfig();
  let server: ManagedServer;
  const shared = cfg.UPLINE_TESTKIT_DATABASE_URL ?? cfg.DATABASE_URL;
  if (!options.dedicated && shared) {
    server = given(shared);
  } else {
    const password = randomBytes(12).toString("hex");
    const { container, port } = await startContainer("PostgreSQL", (hostPort) =>
      new GenericContainer(cfg.POSTGRES_IMAGE)
        .withEnvironment({
          POSTGRES_USER: PG_USER,
          POSTGRES_PASSWORD: password,
          POSTGRES_DB: "upline",
        })
        .withExposedPorts({ container: 5432, host: hostPort })
        .withWaitStrategy(
          Wait.forSuccessfulCommand(
            `pg_isready -h 127.0.0.1 -p 5432 -U ${PG_USER} -d upline`,
          ).withStartupTimeout(60_000),
        )
        .withStartupTimeout(60_000),
    );
    const url = `postgres://${PG_USER}:${password}@${LOOPBACK}:${port}/upline`;
    log(
      `started PostgreSQL container ${container.getId().slice(0, 12)} from ${cfg.POSTGRES_IMAGE} through Testcontainers at 127.0.0.1:${port}`,
    );
    server = managed(container, url, "PostgreSQL", () => pgProbe(url));
  }
  return {
    ...server,
    createDatabase: async (prefix = "t") => {
      const name = `${prefix}_${randomBytes(6).toString("hex")}`;
      const client = new pg.Client({ connectionString: server.url });
      await client.connect();
      try {
        await client.query(`CREATE DATABASE "${name}"`);
      } finally {
        await client.end();
      }
      const url = new URL(server.url);
      url.pathname = `/${name}`;
      return url.toString();
    },
  };
}

/** A namespace unique to this test (see UPLINE_NAMESPACE): isolates subjects, streams and buckets. */
export function uniqueNamespace(prefix = "t"): string {
  return `${prefix}${randomBytes(5).toString("hex")}`.slice(0, 16);
}
