/**
 * One small database interface over node-postgres and PGlite, so the store's
 * SQL is written once and runs on a PostgreSQL server (DATABASE_URL) or on the
 * embedded PGlite data directory (the default).
 */
import { PGlite } from "@electric-sql/pglite";
import { UplineError } from "@upline/shared";
import pg from "pg";

export interface Sql {
  readonly query: <R = Record<string, unknown>>(
    text: string,
    params?: readonly unknown[],
  ) => Promise<{ rows: R[] }>;
}

export const DbFlavor = { Postgres: "postgres", PGlite: "pglite" } as const;
export type DbFlavor = (typeof DbFlavor)[keyof typeof DbFlavor];

export interface Db extends Sql {
  readonly flavor: DbFlavor;
  /** Runs `fn` inside BEGIN … COMMIT; rolls back if it throws. */
  readonly transaction: <T>(fn: (tx: Sql) => Promise<T>) => Promise<T>;
  /**
   * One statement in its own transaction (autocommit), as the writer role: it
   * has committed when this resolves. One round trip where `transaction` takes
   * three or more.
   */
  readonly statement: <R = Record<string, unknown>>(
    text: string,
    params?: readonly unknown[],
  ) => Promise<{ rows: R[] }>;
  /** Runs several statements without parameters (migrations). */
  readonly exec: (text: string) => Promise<void>;
  /**
   * Every later transaction runs as `<role>` (SET ROLE once per connection; PostgreSQL only):
   * the service writes with a role that may only INSERT and SELECT.
   */
  readonly useRole: (role: string | undefined) => void;
  /** Safe to call twice. */
  readonly close: () => Promise<void>;
}

export interface OpenDbOptions {
  /** A PostgreSQL URL; when absent, PGlite at `dataDir` (or in memory when that is absent too). */
  readonly url?: string | undefined;
  readonly dataDir?: string | undefined;
  /** Per statement, PostgreSQL only (default 5 s): a vanished server fails fast. */
  readonly queryTimeoutMs?: number;
}

export async function openDb(options: OpenDbOptions): Promise<Db> {
  return options.url
    ? openPostgres(options.url, options.queryTimeoutMs ?? 5_000)
    : openPGlite(options.dataDir);
}

const ROLE_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

function checkRole(role: string | undefined): string | undefined {
  if (role !== undefined && !ROLE_NAME.test(role)) throw new RangeError(`bad role name ${role}`);
  return role;
}

function openPostgres(url: string, queryTimeoutMs: number): Db {
  const pool = new pg.Pool({
    connectionString: url,
    max: 4,
    connectionTimeoutMillis: 3_000,
    query_timeout: queryTimeoutMs,
    keepAlive: true,
    idleTimeoutMillis: 30_000,
  });
  // An idle client losing its server emits here; the next checkout reconnects.
  pool.on("error", () => undefined);
  const guarded = new WeakSet<pg.PoolClient>();
  const sessionRole = new WeakMap<pg.PoolClient, string>();
  let role: string | undefined;
  let closing: Promise<void> | undefined;
  const unavailable = (err: unknown, what: string) =>
    isConnectionError(err)
      ? new UplineError("AUDIT_STORE_UNAVAILABLE", `${what}: ${(err as Error).message}`, {
          cause: err,
        })
      : err;
  /** A pooled connection, switched to the writer role, dropped if anything on it failed. */
  async function withClient<T>(fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    let client: pg.PoolClient;
    try {
      client = await pool.connect();
    } catch (err) {
      throw new UplineError("AUDIT_STORE_UNAVAILABLE", `connect: ${(err as Error).message}`, {
        cause: err,
      });
    }
    if (!guarded.has(client)) {
      guarded.add(client);
      client.on("error", () => undefined);
    }
    let broken: unknown;
    try {
      // The role is set once per connection (SET LOCAL ROLE in every
      // transaction cost ~20 ms per batch in the benchmark).
      if (role !== undefined && sessionRole.get(client) !== role) {
        await client.query(`SET ROLE ${role}`);
        sessionRole.set(client, role);
      }
      return await fn(client);
    } catch (err) {
      broken = err;
      throw unavailable(err, "transaction");
    } finally {
      // A client that failed is dropped: its connection may be half-dead.
      client.release(broken === undefined ? undefined : true);
    }
  }
  return {
    flavor: DbFlavor.Postgres,
    query: async <R>(text: string, params?: readonly unknown[]) => {
      try {
        const r = await pool.query(text, params as unknown[] | undefined);
        return { rows: r.rows as R[] };
      } catch (err) {
        throw unavailable(err, "query");
      }
    },
    exec: async (text) => {
      try {
        await pool.query(text);
      } catch (err) {
        throw unavailable(err, "exec");
      }
    },
    statement: <R>(text: string, params?: readonly unknown[]) =>
      withClient(async (client) => {
        const r = await client.query(text, params as unknown[] | undefined);
        return { rows: r.rows as R[] };
      }),
    transaction: (fn) =>
      withClient(async (client) => {
        await client.query("BEGIN");
        try {
          const tx: Sql = {
            query: async <R>(text: string, params?: readonly unknown[]) => {
              const r = await client.query(text, params as unknown[] | undefined);
              return { rows: r.rows as R[] };
            },
          };
          const result = await fn(tx);
          await client.query("COMMIT");
          return result;
        } catch (err) {
          await client.query("ROLLBACK").catch(() => undefined);
          throw err;
        }
      }),
    useRole: (r) => {
      role = checkRole(r);
    },
    close: () => {
      closing ??= pool.end().catch(() => undefined);
      return closing;
    },
  };
}

async function openPGlite(dataDir: string | undefined): Promise<Db> {
  const lite = await PGlite.create(dataDir === undefined ? undefined : { dataDir });
  let closing: Promise<void> | undefined;
  return {
    flavor: DbFlavor.PGlite,
    query: async <R>(text: string, params?: readonly unknown[]) => {
      const r = await lite.query<R>(text, params as unknown[] | undefined);
      return { rows: r.rows };
    },
    statement: async <R>(text: string, params?: readonly unknown[]) => {
      const r = await lite.query<R>(text, params as unknown[] | undefined);
      return { rows: r.rows };
    },
    exec: async (text) => {
      await lite.exec(text);
    },
    transaction: (fn) =>
      lite.transaction(async (t) =>
        fn({
          query: async <R>(text: string, params?: readonly unknown[]) => {
            const r = await t.query<R>(text, params as unknown[] | undefined);
            return { rows: r.rows };
          },
        }),
      ),
    // PGlite runs as its one superuser: the append-only trigger is the guard there.
    useRole: () => undefined,
    close: () => {
      closing ??= lite.closed ? Promise.resolve() : lite.close();
      return closing;
    },
  };
}

const CONNECTION_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "EPIPE",
  "ETIMEDOUT",
  "ENOTFOUND",
  "EHOSTUNREACH",
  "57P01", // admin_shutdown
  "57P02", // crash_shutdown
  "57P03", // cannot_connect_now
  "08000",
  "08003",
  "08006",
  "08001",
  "08004",
]);

/** True when a failure is about reaching the server, not about the statement. */
export function isConnectionError(err: unknown): boolean {
  if (err instanceof UplineError) return err.code === "AUDIT_STORE_UNAVAILABLE";
  const e = err as { code?: string; message?: string } | undefined;
  if (e?.code && CONNECTION_CODES.has(e.code)) return true;
  const m = e?.message ?? "";
  return /Connection terminated|timeout|not queryable|Client has encountered a connection error|connect/i.test(
    m,
  );
}
