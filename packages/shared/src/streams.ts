/**
 * Creates or updates the streams and KV buckets of DESIGN.md idempotently.
 * Settings a server cannot change in place (storage, retention, a stream whose
 * subjects overlap ours) are reported as STREAM_CONFLICT with what differs.
 */
import {
  DiscardPolicy,
  JetStreamApiError,
  type JetStreamManager,
  jetstreamManager,
  RetentionPolicy,
  StorageType,
  type StreamConfig,
  type StreamInfo,
} from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import { type NatsConnection, nanos } from "@nats-io/transport-node";
import { z } from "zod";
import { env } from "./config.ts";
import { UplineError } from "./errors.ts";
import type { Subjects } from "./subjects.ts";

/** Stream and bucket limits, from the environment. */
export const streamEnvSchema = {
  STREAM_REPLICAS: env
    .int("JetStream replicas for every stream and bucket (1 or 3)", 1, 5)
    .default(1),
  STREAM_DUPLICATE_WINDOW_S: env
    .int("seconds within which a repeated Nats-Msg-Id is dropped", 1, 86_400)
    .default(120),
  MD_MAX_AGE_S: env.int("seconds of market data kept in stream MD", 60, 31_536_000).default(86_400),
  MD_MAX_BYTES: z.coerce
    .number()
    .int()
    .min(-1)
    .default(4 * 1024 ** 3)
    .describe("bytes kept in stream MD (-1: unlimited)"),
  ORDERS_MAX_AGE_S: env
    .int("seconds of order events kept in stream ORDERS", 3600, 315_360_000)
    .default(30 * 86_400),
  AUDIT_MAX_BYTES: z.coerce
    .number()
    .int()
    .min(1024)
    .default(1024 ** 3)
    .describe("bytes of not-yet-stored audit events AUDIT holds before refusing new publishes"),
  ORDER_IDS_TTL_S: env
    .int("seconds an idempotency entry in KV order-ids is kept", 60, 31_536_000)
    .default(7 * 86_400),
} as const;

export type StreamLimits = z.output<z.ZodObject<typeof streamEnvSchema>>;

export const defaultStreamLimits: StreamLimits = Object.freeze(z.object(streamEnvSchema).parse({}));

type Desired = Pick<
  StreamConfig,
  | "name"
  | "subjects"
  | "retention"
  | "storage"
  | "discard"
  | "max_age"
  | "max_bytes"
  | "duplicate_window"
  | "num_replicas"
>;

/** The stream configurations upline wants, for a namespace and limits. */
export function desiredStreams(subjects: Subjects, limits: StreamLimits): Desired[] {
  const common = {
    storage: StorageType.File,
    duplicate_window: nanos(limits.STREAM_DUPLICATE_WINDOW_S * 1000),
    num_replicas: limits.STREAM_REPLICAS,
  };
  return [
    {
      ...common,
      name: subjects.streams.md,
      subjects: [subjects.md.all],
      retention: RetentionPolicy.Limits,
      discard: DiscardPolicy.Old,
      max_age: nanos(limits.MD_MAX_AGE_S * 1000),
      max_bytes: limits.MD_MAX_BYTES,
    },
    {
      ...common,
      name: subjects.streams.orders,
      subjects: [subjects.orders.eventsAll],
      retention: RetentionPolicy.Limits,
      discard: DiscardPolicy.Old,
      max_age: nanos(limits.ORDERS_MAX_AGE_S * 1000),
      max_bytes: -1,
    },
    {
      // Work queue: an event leaves the stream once the audit service has stored
      // it. When full, new publishes are refused (discard new), never old ones
      // dropped: that is what makes order-exec fail closed.
      ...common,
      name: subjects.streams.audit,
      subjects: [subjects.audit.all],
      retention: RetentionPolicy.Workqueue,
      discard: DiscardPolicy.New,
      max_age: 0,
      max_bytes: limits.AUDIT_MAX_BYTES,
    },
  ];
}

export interface EnsureResult {
  readonly created: string[];
  readonly updated: string[];
  readonly unchanged: string[];
}

/** Creates or updates streams MD, ORDERS, AUDIT and buckets `control`, `order-ids`. */
export async function ensureStreams(
  nc: NatsConnection,
  subjects: Subjects,
  limits: StreamLimits = defaultStreamLimits,
): Promise<EnsureResult> {
  const jsm = await jetstreamManager(nc);
  const result: EnsureResult = { created: [], updated: [], unchanged: [] };
  for (const desired of desiredStreams(subjects, limits)) {
    const outcome = await ensureStream(jsm, desired);
    result[outcome].push(desired.name);
  }
  const kvm = new Kvm(nc);
  const buckets = [
    { bucket: subjects.buckets.control, history: 20, ttl: 0 },
    { bucket: subjects.buckets.orderIds, history: 1, ttl: limits.ORDER_IDS_TTL_S * 1000 },
  ];
  for (const b of buckets) {
    const streamName = `KV_${b.bucket}`;
    const existing = await streamInfo(jsm, streamName);
    if (existing === undefined) {
      await kvm.create(b.bucket, {
        history: b.history,
        ttl: b.ttl,
        replicas: limits.STREAM_REPLICAS,
        storage: StorageType.File,
      });
      result.created.push(streamName);
      continue;
    }
    const differs: string[] = [];
    if (existing.config.max_msgs_per_subject !== b.history) differs.push("history");
    if (existing.config.max_age !== nanos(b.ttl)) differs.push("ttl");
    if (existing.config.storage !== StorageType.File) {
      throw conflict(streamName, [`storage is ${existing.config.storage}, want file`]);
    }
    if (differs.length === 0) {
      result.unchanged.push(streamName);
    } else {
      await jsm.streams.update(streamName, {
        ...existing.config,
        max_msgs_per_subject: b.history,
        max_age: nanos(b.ttl),
      });
      result.updated.push(streamName);
    }
  }
  return result;
}

async function streamInfo(jsm: JetStreamManager, name: string): Promise<StreamInfo | undefined> {
  try {
    return await jsm.streams.info(name);
  } catch (err) {
    if (err instanceof JetStreamApiError && err.code === 10059) return undefined; // stream not found
    throw err;
  }
}

async function ensureStream(jsm: JetStreamManager, desired: Desired): Promise<keyof EnsureResult> {
  const existing = await streamInfo(jsm, desired.name);
  if (existing === undefined) {
    try {
      await jsm.streams.add(desired);
    } catch (err) {
      if (err instanceof JetStreamApiError && err.code === 10065) {
        throw conflict(
          desired.name,
          [`its subjects ${desired.subjects?.join(", ")} overlap another stream's`],
          err,
        );
      }
      throw err;
    }
    return "created";
  }
  const cfg = existing.config;
  const fixed: string[] = [];
  if (cfg.storage !== desired.storage)
    fixed.push(`storage is ${cfg.storage}, want ${desired.storage}`);
  if (cfg.retention !== desired.retention)
    fixed.push(`retention is ${cfg.retention}, want ${desired.retention}`);
  if (fixed.length > 0) throw conflict(desired.name, fixed);

  const mutable = [
    "subjects",
    "discard",
    "max_age",
    "max_bytes",
    "duplicate_window",
    "num_replicas",
  ] as const;
  const changed = mutable.filter((k) => JSON.stringify(cfg[k]) !== JSON.stringify(desired[k]));
  if (changed.length === 0) return "unchanged";
  try {
    await jsm.streams.update(desired.name, { ...cfg, ...desired });
  } catch (err) {
    throw conflict(
      desired.name,
      changed.map((k) => `${k} cannot be changed to ${JSON.stringify(desired[k])}`),
      err,
    );
  }
  return "updated";
}

function conflict(name: string, what: string[], cause?: unknown): UplineError {
  return new UplineError(
    "STREAM_CONFLICT",
    `stream ${name} conflicts with upline's configuration: ${what.join("; ")}. ` +
      "Remove or rename the existing stream, or run with a different UPLINE_NAMESPACE.",
    { cause, details: { stream: name, differences: what } },
  );
}
