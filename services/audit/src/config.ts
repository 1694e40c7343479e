import { env, serviceEnvSchema } from "@upline/shared";
import { z } from "zod";

/** The audit service's own variables (see the README's configuration table). */
export const auditEnvSchema = {
  DATABASE_URL: z
    .string()
    .optional()
    .describe("PostgreSQL URL; unset stores into embedded PGlite under AUDIT_DATA_DIR"),
  AUDIT_DATA_DIR: z
    .string()
    .default(".data/audit")
    .describe("PGlite data directory when DATABASE_URL is unset, and where a generated key lives"),
  AUDIT_CHECKPOINT_KEY_FILE: z
    .string()
    .optional()
    .describe(
      "private Ed25519 JWK that signs checkpoints; unset: generated once at AUDIT_DATA_DIR/checkpoint-key.jwk",
    ),
  AUDIT_CHECKPOINT_EVERY: env
    .int("events between two signed checkpoints", 1, 100_000_000)
    .default(10_000),
  AUDIT_CHECKPOINT_INTERVAL_S: env
    .int("seconds after which new events get a checkpoint anyway", 1, 86_400)
    .default(60),
  AUDIT_BATCH_MAX: env.int("events written per transaction at most", 1, 5_000).default(2_000),
  AUDIT_MAX_ACK_PENDING: env
    .int("events delivered to the service but not yet stored, at most", 100, 1_000_000)
    .default(20_000),
  AUDIT_ACK_WAIT_S: env
    .int("seconds before JetStream redelivers an event the service did not acknowledge", 1, 3_600)
    .default(30),
  AUDIT_READY_MAX_LAG: env
    .int("events waiting in stream AUDIT above which /readyz reports not ready", 1, 1_000_000_000)
    .default(100_000),
  AUDIT_CONSUMER: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,64}$/)
    .default("audit-store")
    .describe("durable consumer name on stream AUDIT"),
} as const;

/** The audit service's environment. */
export const configSchema = z.object({ ...serviceEnvSchema, ...auditEnvSchema });

export type Config = z.infer<typeof configSchema>;
/** What the app itself needs (tests build it without the NATS/telemetry part). */
export type AuditConfig = z.infer<z.ZodObject<typeof auditEnvSchema>>;

/** Parses only the audit variables (tests, the CLI). */
export const auditConfigSchema = z.object(auditEnvSchema);

/** Variables with this prefix must be known to the schema (catches typos). */
export const CONFIG_PREFIX = "AUDIT_";
