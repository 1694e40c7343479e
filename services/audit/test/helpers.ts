/** Shared set-up for the audit integration tests (not a test file itself). */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { jetstream } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import {
  type AuditEvent,
  connectBus,
  createLogger,
  createSubjects,
  defaultStreamLimits,
  ensureStreams,
  type Logger,
  type Subjects,
  uuidv7,
} from "@upline/shared";
import { uniqueNamespace } from "@upline/testkit";
import {
  type AuditApp,
  type AuditConfig,
  auditConfigSchema,
  buildAudit,
  generateSigningJwk,
} from "../src/index.ts";

export interface Bus {
  readonly nc: NatsConnection;
  readonly subjects: Subjects;
  readonly logger: Logger;
  readonly close: () => Promise<void>;
}

export async function openBus(natsUrl: string, maxBytes = 512 * 1024 ** 2): Promise<Bus> {
  const logger = createLogger({ service: "audit", level: process.env.AUDIT_TEST_LOG ?? "silent" });
  const nc = await connectBus({ NATS_URL: natsUrl }, { name: "audit-test", logger });
  const subjects = createSubjects(uniqueNamespace("au"));
  await ensureStreams(nc, subjects, { ...defaultStreamLimits, AUDIT_MAX_BYTES: maxBytes });
  return {
    nc,
    subjects,
    logger,
    close: async () => {
      if (!nc.isClosed()) await nc.drain().catch(() => undefined);
    },
  };
}

export async function tempDir(): Promise<{ path: string; remove: () => Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), "upline-audit-"));
  return { path, remove: () => rm(path, { recursive: true, force: true }) };
}

/** A config for tests: a key file written to `dir`, quick redelivery, small checkpoint period. */
export async function testConfig(
  dir: string,
  overrides: Partial<Record<string, string>> = {},
): Promise<AuditConfig> {
  const { writeFile } = await import("node:fs/promises");
  const keyFile = join(dir, "key.jwk");
  await writeFile(keyFile, JSON.stringify(await generateSigningJwk()), { mode: 0o600, flag: "w" });
  return auditConfigSchema.parse({
    AUDIT_DATA_DIR: join(dir, "pglite"),
    AUDIT_CHECKPOINT_KEY_FILE: keyFile,
    AUDIT_CHECKPOINT_EVERY: "2000",
    AUDIT_ACK_WAIT_S: "5",
    ...overrides,
  });
}

export function startAudit(bus: Bus, config: AuditConfig): AuditApp {
  return buildAudit({ config, nc: bus.nc, subjects: bus.subjects, logger: bus.logger });
}

export function makeEvent(i: number, extra: Partial<AuditEvent> = {}): AuditEvent {
  return {
    id: uuidv7(),
    ts: new Date().toISOString(),
    service: "order-exec",
    kind: "order_placed",
    outcome: "ok",
    data: { client_order_id: `c-${i}`, market: "KRW-BTC", price: "100000000", n: i },
    ...extra,
  };
}

/** Publishes events to JetStream with at most `inFlight` unacknowledged publishes. */
export async function publishMany(
  bus: Bus,
  count: number,
  inFlight = 256,
  make: (i: number) => AuditEvent = makeEvent,
): Promise<void> {
  const js = jetstream(bus.nc);
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const i = next++;
      const e = make(i);
      const subject = bus.subjects.audit.event(e.service, e.kind);
      for (let attempt = 0; ; attempt++) {
        try {
          await js.publish(subject, JSON.stringify(e), { msgID: e.id, timeout: 10_000 });
          break;
        } catch (err) {
          if (attempt >= 20) throw err;
        }
      }
    }
  };
  await Promise.all(Array.from({ length: inFlight }, worker));
}
