/**
 * Versioned schema migrations, applied at start in order, each once, under an
 * advisory lock so two replicas starting together do not race. The same SQL
 * runs on PostgreSQL and PGlite; the role part only where roles exist.
 */
import type { Db } from "./db.ts";

/** The role the service writes with on PostgreSQL: INSERT and SELECT only. */
export const WRITER_ROLE = "upline_audit_writer";

const MIGRATION_LOCK = 7_202_607; // any constant shared by all replicas

export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
  /** Only on a server with roles (not PGlite). */
  readonly serverOnly?: boolean;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: "audit events, chain head, checkpoints, append-only triggers",
    sql: `
CREATE TABLE audit_events (
  seq        bigint PRIMARY KEY,
  id         uuid NOT NULL,
  ts         timestamptz NOT NULL,
  service    text NOT NULL,
  kind       text NOT NULL,
  outcome    text NOT NULL,
  trace_id   text,
  actor      text,
  data       jsonb NOT NULL,
  prev_hash  text NOT NULL,
  hash       text NOT NULL,
  stored_at  timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX audit_events_id ON audit_events (id);
CREATE INDEX audit_events_ts ON audit_events USING brin (ts);
CREATE INDEX audit_events_trace ON audit_events (trace_id) WHERE trace_id IS NOT NULL;
CREATE INDEX audit_events_client_order ON audit_events ((data->>'client_order_id'))
  WHERE data ? 'client_order_id';

-- One row: the end of the chain. Writers lock it (SELECT … FOR UPDATE) so two
-- replicas never link two batches to the same predecessor.
CREATE TABLE audit_head (
  one   boolean PRIMARY KEY DEFAULT true CHECK (one),
  seq   bigint NOT NULL,
  hash  text NOT NULL
);
INSERT INTO audit_head (one, seq, hash) VALUES (true, 0, repeat('0', 64));

CREATE TABLE audit_checkpoints (
  seq         bigint PRIMARY KEY,
  hash        text NOT NULL,
  signed_at   timestamptz NOT NULL,
  kid         text NOT NULL,
  public_jwk  jsonb NOT NULL,
  jws         text NOT NULL
);

CREATE FUNCTION audit_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'audit: % on % refused: audit rows are append-only', TG_OP, TG_TABLE_NAME
    USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events
  FOR EACH ROW EXECUTE FUNCTION audit_refuse_change();
CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
  FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_change();
CREATE TRIGGER audit_checkpoints_append_only BEFORE UPDATE OR DELETE ON audit_checkpoints
  FOR EACH ROW EXECUTE FUNCTION audit_refuse_change();
CREATE TRIGGER audit_checkpoints_no_truncate BEFORE TRUNCATE ON audit_checkpoints
  FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_change();
`,
  },
  {
    version: 2,
    name: "writer role with INSERT/SELECT only",
    serverOnly: true,
    sql: `
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '${WRITER_ROLE}') THEN
    BEGIN
      CREATE ROLE ${WRITER_ROLE} NOLOGIN;
    EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
    END;
  END IF;
END $$;
REVOKE ALL ON audit_events, audit_checkpoints, audit_head FROM ${WRITER_ROLE};
GRANT SELECT, INSERT ON audit_events, audit_checkpoints TO ${WRITER_ROLE};
GRANT SELECT, UPDATE ON audit_head TO ${WRITER_ROLE};
GRANT SELECT ON audit_schema_migrations TO ${WRITER_ROLE};
`,
  },
];

export interface MigrateResult {
  readonly applied: number[];
  /** The role the service should write with, when the server has one for it. */
  readonly writerRole: string | undefined;
}

/** Applies the migrations not yet recorded in `audit_schema_migrations`. */
export async function migrate(db: Db): Promise<MigrateResult> {
  const server = db.flavor === "postgres";
  await db.exec(`CREATE TABLE IF NOT EXISTS audit_schema_migrations (
    version integer PRIMARY KEY,
    name text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
  )`);
  const applied: number[] = [];
  for (const m of MIGRATIONS) {
    if (m.serverOnly && !server) continue;
    const done = await db.transaction(async (tx) => {
      await tx.query("SELECT pg_advisory_xact_lock($1)", [MIGRATION_LOCK]);
      const seen = await tx.query("SELECT 1 FROM audit_schema_migrations WHERE version = $1", [
        m.version,
      ]);
      if (seen.rows.length > 0) return false;
      if (m.serverOnly) {
        const can = await tx.query<{ ok: boolean }>(
          "SELECT (rolsuper OR rolcreaterole) AS ok FROM pg_roles WHERE rolname = current_user",
        );
        if (!can.rows[0]?.ok) return false; // no right to create roles: the trigger still guards
      }
      for (const statement of splitStatements(m.sql)) await tx.query(statement);
      await tx.query("INSERT INTO audit_schema_migrations (version, name) VALUES ($1, $2)", [
        m.version,
        m.name,
      ]);
      return true;
    });
    if (done) applied.push(m.version);
  }
  let writerRole: string | undefined;
  if (server) {
    const r = await db.query<{ member: boolean }>(
      `SELECT pg_has_role(current_user, oid, 'MEMBER') AS member FROM pg_roles WHERE rolname = $1`,
      [WRITER_ROLE],
    );
    if (r.rows[0]?.member) writerRole = WRITER_ROLE;
  }
  return { applied, writerRole };
}

/** Splits on `;` at line ends outside `$$` bodies (enough for our own SQL). */
function splitStatements(sql: string): string[] {
  const out: string[] = [];
  let current = "";
  let inBody = false;
  for (const line of sql.split("\n")) {
    if (line.trim().startsWith("--")) continue;
    current += `${line}\n`;
    const marks = line.split("$$").length - 1;
    if (marks % 2 === 1) inBody = !inBody;
    if (!inBody && line.trimEnd().endsWith(";")) {
      out.push(current.trim());
      current = "";
    }
  }
  if (current.trim()) out.push(current.trim());
  return out;
}
