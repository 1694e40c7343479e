/** Front door of @upline/audit: the service, and the chain/store code the CLI shares. */

export type { AuditApp, AuditDeps, AuditStatus } from "./app.ts";
export { buildAudit } from "./app.ts";
export type { ChainBreak, ChainEvent, ChainHead, ChainRow } from "./chain.ts";
export {
  ChainProblem,
  ChainVerifier,
  canonicalEvent,
  canonicalJson,
  EMPTY_HEAD,
  GENESIS_HASH,
  hashEvent,
  hashedForm,
  linkEvents,
} from "./chain.ts";
export type { CheckpointPayload, SigningKey } from "./checkpoint.ts";
export {
  generateSigningJwk,
  importSigningKey,
  loadSigningKey,
  publicPart,
  signCheckpoint,
  verifyCheckpoint,
} from "./checkpoint.ts";
export type { AuditConfig, Config } from "./config.ts";
export { auditConfigSchema, auditEnvSchema, CONFIG_PREFIX, configSchema } from "./config.ts";
export type { Db, OpenDbOptions, Sql, Tx } from "./db.ts";
export { DbFlavor, isConnectionError, openDb } from "./db.ts";
export type { Ingested, MessageOrigin } from "./ingest.ts";
export { ingest, normalizeTs } from "./ingest.ts";
export type { MigrateResult, Migration } from "./migrations.ts";
export { MIGRATIONS, migrate, WRITER_ROLE } from "./migrations.ts";
export type { RedactionResult } from "./redact.ts";
export { looksLikeBearerOrJws, REDACTED, redactForStorage } from "./redact.ts";
export type { AppendResult, EventFilter, LinkedBatch, StoredCheckpoint } from "./store.ts";
export {
  appendEvents,
  COPY_TARGET,
  copyRows,
  copyRowsBytes,
  countRows,
  HEAD_MOVED,
  insertCheckpoint,
  isUniqueViolation,
  prepareBatch,
  queryEvents,
  readCheckpoints,
  readHead,
  readRows,
  tryAppend,
} from "./store.ts";
export type { CheckpointBreak, VerifyOptions, VerifyReport } from "./verify.ts";
export { CheckpointProblem, verifyStore } from "./verify.ts";
