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

/** A transaction's statements, plus COPY into a table. */
export interface Tx extends Sql {
  /**
   * `COPY <target> FROM STDIN` (PostgreSQL) or from a blob (PGlite) with `data`
   * in COPY's text format (tab-separated columns, one row per line, `\N` for NULL).
   */
  readonly copy: (target: string, data: string | Buffer) => Promise<void>;
}

export const DbFlavor = { Postgres: "postgres", PGlite: "pglite" } as const;
export type DbFlavor = (typeof DbFlavor)[keyof typeof DbFlavor];

export interface Db extends Sql {
  readonly flavor: DbFlavor;
  /** Runs `fn` inside BEGIN … COMMIT; rolls back if it throws. */
  readonly transaction: <T>(fn: (tx: Tx) => Promise<T>) => Promise<T>;
  /**
   * `prelude` (statements without parameters, `;`-separated) and then
   * `COPY <target>` of `data` (see {@link Tx.copy}), sent as one simple query:
   * one implicit transaction (all or nothing, committed when this resolves), as
   * the writer role, in one round trip on PostgreSQL (the COPY data goes out
   * with the query). Throws the first statement's error; nothing is written then.
   * `onPrelude` is called once when the server reports the prelude's first
   * statement done (or the script ended, whichever comes first): a lock the
   * prelude takes is held from then on.
   */
  readonly copyScript: (
    prelude: string,
    target: string,
    data: string | Buffer,
    onPrelude?: () => void,
  ) => Promise<void>;
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
      // A client that failed is dropped: its connection may be half-dead. An
      // error the server reported about a statement (a unique violation, a
      // moved chain head) leaves the connection in order, so it is kept: a
      // reconnect (and SET ROLE) per refused batch would slow the writer that
      // is falling behind another replica.
      client.release(broken === undefined || statementError(broken) ? undefined : true);
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
    copyScript: (prelude, target, data, onPrelude) =>
      withClient((client) =>
        copyIn(client, `${prelude};\nCOPY ${target} FROM STDIN`, data, onPrelude),
      ),
    transaction: (fn) =>
      withClient(async (client) => {
        await client.query("BEGIN");
        try {
          const tx: Tx = {
            query: async <R>(text: string, params?: readonly unknown[]) => {
              const r = await client.query(text, params as unknown[] | undefined);
              return { rows: r.rows as R[] };
            },
            copy: (target, data) => copyIn(client, `COPY ${target} FROM STDIN`, data),
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
    // PGlite reads COPY data from the virtual file /dev/blob. exec() sends one
    // simple query, so the prelude and the COPY are one implicit transaction.
    copyScript: async (prelude, target, data, onPrelude) => {
      // PGlite runs calls one at a time, in the order they were made.
      onPrelude?.();
      await lite.exec(`${prelude};\nCOPY ${target} FROM '/dev/blob'`, { blob: new Blob([data]) });
    },
    transaction: (fn) =>
      lite.transaction(async (t) =>
        fn({
          query: async <R>(text: string, params?: readonly unknown[]) => {
            const r = await t.query<R>(text, params as unknown[] | undefined);
            return { rows: r.rows };
          },
          copy: async (target, data) => {
            await t.query(`COPY ${target} FROM '/dev/blob'`, [], { blob: new Blob([data]) });
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

/**
 * A simple query whose text ends with `COPY … FROM STDIN`, written together
 * with its COPY data (a node-postgres "submittable"; pg has no COPY API of its
 * own). The data is not held back until the server's CopyInResponse: the
 * server reads it from the socket when it reaches the COPY, so a batch that
 * waited for the head lock does not hold the lock for another round trip to
 * this (busy) process. If a statement before the COPY fails, the server drops
 * the CopyData/CopyDone it then reads (protocol: "any subsequent CopyData,
 * CopyDone, or CopyFail messages issued by the frontend will simply be
 * dropped"; PostgresMain ignores them outside COPY).
 */
class CopyInQuery {
  readonly text: string;
  readonly #data: Buffer;
  /** Set by pg's query timeout wrapper too; called once with the outcome. */
  callback: (err: Error | null) => void;

  #onFirstDone: (() => void) | undefined;

  constructor(
    text: string,
    data: string | Buffer,
    settle: (err: Error | null) => void,
    onFirstDone: (() => void) | undefined,
  ) {
    this.text = text;
    this.#data = typeof data === "string" ? Buffer.from(data, "utf8") : data;
    this.#onFirstDone = onFirstDone;
    let done = false;
    this.callback = (err) => {
      if (done) return;
      done = true;
      this.#firstDone();
      settle(err);
    };
  }

  #firstDone(): void {
    const f = this.#onFirstDone;
    this.#onFirstDone = undefined;
    f?.();
  }

  submit(connection: CopyConnection): void {
    connection.query(this.text);
    connection.sendCopyFromChunk(this.#data);
    connection.endCopyFrom();
  }

  // A backend error arrives before ReadyForQuery; a dead socket brings no
  // ReadyForQuery at all: settle on the first of the two.
  handleError(err: Error): void {
    this.callback(err);
  }
  handleReadyForQuery(): void {
    this.callback(null);
  }
  handleCopyInResponse(): void {} // the data went out with the query
  handleRowDescription(): void {}
  handleDataRow(): void {}
  handleCommandComplete(): void {
    this.#firstDone();
  }
  handleEmptyQuery(): void {}
  handleCopyData(): void {}
  handlePortalSuspended(): void {}
}

interface CopyConnection {
  query(text: string): void;
  sendCopyFromChunk(chunk: Buffer): void;
  endCopyFrom(): void;
}

function copyIn(
  client: pg.PoolClient,
  text: string,
  data: string | Buffer,
  onFirstDone?: () => void,
): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const q = new CopyInQuery(text, data, (err) => (err ? reject(err) : resolve()), onFirstDone);
    client.query(q as unknown as pg.QueryConfig);
  });
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

/** An error the server reported for a statement on a healthy connection. */
function statementError(err: unknown): boolean {
  return err instanceof pg.DatabaseError && !isConnectionError(err);
}

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
