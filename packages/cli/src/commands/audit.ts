/**
 * `upline audit verify | tail | query`: read the audit store directly
 * (DATABASE_URL, or the embedded PGlite directory AUDIT_DATA_DIR — which the
 * audit service must not hold open at the same time: PGlite is single-process).
 */
import { readFile } from "node:fs/promises";
import { setTimeout as delay } from "node:timers/promises";
import { parseArgs } from "node:util";
import {
  type ChainRow,
  type Db,
  type EventFilter,
  openDb,
  publicPart,
  queryEvents,
  readHead,
  verifyStore,
} from "@upline/audit";
import { UplineError } from "@upline/shared";
import type { JWK } from "jose";
import type { CliIo, Command } from "../cli.ts";

const DB_OPTIONS = {
  "database-url": { type: "string" },
  "data-dir": { type: "string" },
  json: { type: "boolean", default: false },
} as const;
const DB_USAGE =
  "[--database-url URL | --data-dir DIR] [--json]   (defaults: $DATABASE_URL, else PGlite at $AUDIT_DATA_DIR or .data/audit)";

const FILTER_OPTIONS = {
  since: { type: "string" },
  until: { type: "string" },
  service: { type: "string" },
  kind: { type: "string" },
  "trace-id": { type: "string" },
  "client-order-id": { type: "string" },
} as const;
const FILTER_USAGE =
  "[--since ISO] [--until ISO] [--service S] [--kind K] [--trace-id T] [--client-order-id C]";

async function open(values: { "database-url"?: string; "data-dir"?: string }, io: CliIo) {
  const url = values["database-url"] ?? io.env.DATABASE_URL;
  return openDb(
    url
      ? { url, queryTimeoutMs: 60_000 }
      : { dataDir: values["data-dir"] ?? io.env.AUDIT_DATA_DIR ?? ".data/audit" },
  );
}

function isoOption(value: string | undefined, name: string): string | undefined {
  if (value === undefined) return undefined;
  if (Number.isNaN(Date.parse(value))) throw new TypeError(`--${name} is not a date: ${value}`);
  return new Date(value).toISOString();
}

function filterFrom(values: Record<string, unknown>): EventFilter {
  return {
    since: isoOption(values.since as string | undefined, "since"),
    until: isoOption(values.until as string | undefined, "until"),
    service: values.service as string | undefined,
    kind: values.kind as string | undefined,
    traceId: values["trace-id"] as string | undefined,
    clientOrderId: values["client-order-id"] as string | undefined,
  };
}

function positiveInt(value: string | undefined, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 0) throw new TypeError(`--${name} must be a whole number`);
  return n;
}

/** One row for people: seq, time, service.kind, outcome, trace, data. */
export function formatRow(row: ChainRow): string {
  const trace = row.trace_id ? ` trace=${row.trace_id}` : "";
  const actor = row.actor ? ` actor=${row.actor}` : "";
  return `${String(row.seq).padStart(8)}  ${row.ts}  ${row.service}.${row.kind}  ${row.outcome}${trace}${actor}  ${JSON.stringify(row.data)}\n`;
}

function printRows(rows: readonly ChainRow[], json: boolean, io: CliIo): void {
  for (const row of rows) io.out(json ? `${JSON.stringify(row)}\n` : formatRow(row));
}

async function withDb<T>(db: Db, fn: (db: Db) => Promise<T>): Promise<T> {
  try {
    return await fn(db);
  } finally {
    await db.close();
  }
}

const verify: Command = {
  path: ["audit", "verify"],
  summary: "walk the hash chain and the signed checkpoints; name the first broken seq",
  usage: `${DB_USAGE} [--public-key JWK_FILE]`,
  run: async (args, io) => {
    const { values } = parseArgs({
      args: [...args],
      options: { ...DB_OPTIONS, "public-key": { type: "string" } },
      strict: true,
    });
    let publicJwk: JWK | undefined;
    if (values["public-key"]) {
      try {
        publicJwk = publicPart(JSON.parse(await readFile(values["public-key"], "utf8")) as JWK);
      } catch (err) {
        throw new UplineError("AUDIT_KEY_INVALID", `cannot read ${values["public-key"]}`, {
          cause: err,
        });
      }
    }
    const report = await withDb(await open(values, io), async (db) => {
      const total = (await readHead(db)).seq;
      let lastPrint = Date.now();
      return verifyStore(db, {
        publicJwk,
        onProgress: (rows, lastSeq) => {
          if (Date.now() - lastPrint >= 1_000) {
            lastPrint = Date.now();
            io.err(
              `verify: ${rows.toLocaleString("en-US")} of ~${total.toLocaleString("en-US")} rows (seq ${lastSeq})\n`,
            );
          }
        },
      });
    });
    if (values.json) {
      io.out(`${JSON.stringify(report)}\n`);
    } else if (report.ok) {
      io.out(
        `audit log verifies: ${report.rows} rows, head seq ${report.head.seq} hash ${report.head.hash}, ` +
          `${report.checkpoints} signed checkpoints${report.keyPinned ? " (pinned key)" : " (keys stored in the database; pass --public-key to pin)"}\n`,
      );
    } else {
      const what = [report.chainBreak, report.checkpointBreak]
        .filter((b) => b !== undefined && b.seq === report.firstBrokenSeq)
        .map((b) => `${b?.problem}: ${b?.detail}`)
        .join("; ");
      io.out(`audit log BROKEN at seq ${report.firstBrokenSeq}: ${what}\n`);
    }
    return report.ok ? 0 : 1;
  },
};

const query: Command = {
  path: ["audit", "query"],
  summary: "list stored audit events by time range, service, kind, trace id or client order id",
  usage: `${DB_USAGE} ${FILTER_USAGE} [--limit N]`,
  run: async (args, io) => {
    const { values } = parseArgs({
      args: [...args],
      options: { ...DB_OPTIONS, ...FILTER_OPTIONS, limit: { type: "string" } },
      strict: true,
    });
    const filter = { ...filterFrom(values), limit: positiveInt(values.limit, "limit", 1_000) };
    const rows = await withDb(await open(values, io), (db) => queryEvents(db, filter));
    printRows(rows, values.json ?? false, io);
    if (!values.json) io.err(`${rows.length} event(s)\n`);
    return 0;
  },
};

const tail: Command = {
  path: ["audit", "tail"],
  summary: "follow newly stored audit events (Ctrl-C to stop)",
  usage: `${DB_USAGE} ${FILTER_USAGE} [--from-seq N] [--interval-ms MS] [--max N]`,
  run: async (args, io) => {
    const { values } = parseArgs({
      args: [...args],
      options: {
        ...DB_OPTIONS,
        ...FILTER_OPTIONS,
        "from-seq": { type: "string" },
        "interval-ms": { type: "string" },
        max: { type: "string" },
      },
      strict: true,
    });
    const interval = positiveInt(values["interval-ms"], "interval-ms", 1_000);
    const max = positiveInt(values.max, "max", Number.MAX_SAFE_INTEGER);
    const filter = filterFrom(values);
    return withDb(await open(values, io), async (db) => {
      let after =
        values["from-seq"] !== undefined
          ? positiveInt(values["from-seq"], "from-seq", 0)
          : (await readHead(db)).seq;
      let shown = 0;
      while (!io.signal.aborted && shown < max) {
        const rows = await queryEvents(db, {
          ...filter,
          afterSeq: after,
          limit: Math.min(1_000, max - shown),
        });
        printRows(rows, values.json ?? false, io);
        shown += rows.length;
        const last = rows[rows.length - 1];
        if (last) after = last.seq;
        if (rows.length === 0) {
          await delay(interval, undefined, { signal: io.signal }).catch(() => undefined);
        }
      }
      return 0;
    });
  },
};

export const auditCommands: readonly Command[] = [verify, tail, query];
