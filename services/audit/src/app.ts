/**
 * The audit service: a durable pull consumer on stream AUDIT feeding batches
 * into the hash-chained store. An event is acknowledged only after the
 * transaction that stored it committed; while the database is away nothing is
 * acknowledged, so events wait in JetStream and are caught up afterwards.
 */
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { setTimeout as delay, setImmediate } from "node:timers/promises";
import {
  AckPolicy,
  type Consumer,
  type ConsumerMessages,
  DeliverPolicy,
  type JsMsg,
  jetstream,
  jetstreamManager,
} from "@nats-io/jetstream";
import { type NatsConnection, nanos } from "@nats-io/transport-node";
import { context, metrics, propagation, SpanKind, trace } from "@opentelemetry/api";
import {
  type AuditPublisher,
  createAuditPublisher,
  type Logger,
  ServiceName,
  type Subjects,
} from "@upline/shared";
import {
  type ChainEvent,
  type ChainHead,
  type ChainRow,
  canonicalEvent,
  canonicalJson,
} from "./chain.ts";
import { loadSigningKey, type SigningKey, signCheckpoint } from "./checkpoint.ts";
import type { AuditConfig } from "./config.ts";
import { type Db, isConnectionError, openDb } from "./db.ts";
import { ingest } from "./ingest.ts";
import { migrate } from "./migrations.ts";
import {
  type AppendResult,
  appendEvents,
  insertCheckpoint,
  type LinkedBatch,
  prepareBatch,
  readCheckpoints,
  readHead,
  tryAppend,
} from "./store.ts";

export interface AuditDeps {
  readonly config: AuditConfig;
  readonly nc: NatsConnection;
  readonly subjects: Subjects;
  readonly logger: Logger;
  readonly clock?: () => number;
  /** Called after each commit with the rows it stored (tests, benchmarks). */
  readonly onStored?: (rows: readonly ChainRow[]) => void;
}

export interface AuditStatus {
  readonly started: boolean;
  readonly dbUp: boolean;
  readonly lag: number;
  readonly stored: number;
  readonly duplicates: number;
  readonly redactions: number;
  readonly invalid: number;
  readonly head: ChainHead;
  readonly lastCheckpointSeq: number;
  readonly database: "postgres" | "pglite";
}

export interface AuditApp {
  /** Opens the store (retrying until it answers), migrates, and starts consuming. */
  readonly start: () => Promise<void>;
  /**
   * Stops taking events, finishes the batch being written (or gives it back to
   * JetStream), returns unwritten events for redelivery, closes the store. Safe
   * to call twice; the second call returns the same promise.
   */
  readonly stop: () => Promise<void>;
  /** Store reachable and lag under AUDIT_READY_MAX_LAG. */
  readonly ready: () => boolean;
  readonly status: () => AuditStatus;
}

const meter = metrics.getMeter("@upline/audit");

/** Batches sent to the store at once: one committing, the next waiting for the head lock. */
const PIPELINE_DEPTH = 2;

export function buildAudit(deps: AuditDeps): AuditApp {
  const { config, nc, subjects } = deps;
  const log = deps.logger.child({ component: "audit" });
  const clock = deps.clock ?? Date.now;
  const stream = subjects.streams.audit;
  const abort = new AbortController();

  const storedCounter = meter.createCounter("audit.events.stored", {
    description: "audit events stored",
  });
  const duplicateCounter = meter.createCounter("audit.events.duplicates", {
    description: "redelivered or repeated audit events not stored again",
  });
  const redactionCounter = meter.createCounter("audit.redactions", {
    description: "values redacted at ingestion (a publisher leaked a secret)",
  });
  const lagGauge = meter.createObservableGauge("audit.consumer.lag", {
    description: "events in stream AUDIT not yet stored",
  });
  const dbGauge = meter.createObservableGauge("audit.db.up", {
    description: "1 when the audit database answers",
  });

  let db: Db | undefined;
  let key: SigningKey | undefined;
  let messages: ConsumerMessages | undefined;
  let consumer: Consumer | undefined;
  let publisher: AuditPublisher | undefined;
  let started = false;
  let stopping: Promise<void> | undefined;
  let dbUp = false;
  let lag = 0;
  let stored = 0;
  let duplicates = 0;
  let redactions = 0;
  let invalid = 0;
  let head: ChainHead = { seq: 0, hash: "0".repeat(64) };
  let lastCheckpoint = { seq: 0, at: clock() };
  let checkpointing: Promise<void> = Promise.resolve();
  const timers: NodeJS.Timeout[] = [];
  const loops: Promise<void>[] = [];

  // Received, not yet written: keyed by stream sequence, so a redelivery
  // replaces its earlier copy instead of piling up while the store is down.
  // With a short queue (live traffic) an event is prepared (decoded, redacted,
  // canonicalized) on receipt, which overlaps the batch before's commit. With a
  // long one (a backlog, up to AUDIT_MAX_ACK_PENDING) only the message and its
  // arrival time wait; it is prepared when its batch is formed, so the objects
  // that work makes die young instead of surviving the scavenges of a long
  // queue (GC was the largest item in the drain's profile).
  const queue = new Map<number, Received>();
  // The writer is woken when this many events wait: 1 when it is idle, a full
  // batch while a batch is in flight (a smaller one would only wait for the lock).
  let wantQueued = 1;
  let wake: (() => void) | undefined;
  const signal = () => {
    wake?.();
    wake = undefined;
  };

  lagGauge.addCallback((r) => r.observe(lag, { stream }));
  dbGauge.addCallback((r) => r.observe(dbUp ? 1 : 0));

  const stopped = () => abort.signal.aborted;

  const backoff = async (attempt: number) => {
    const ms = Math.min(5_000, 100 * 2 ** Math.min(attempt, 6));
    await delay(ms / 2 + Math.random() * (ms / 2), undefined, { signal: abort.signal }).catch(
      () => undefined,
    );
  };

  async function openStore(): Promise<Db> {
    if (!config.DATABASE_URL) await mkdir(config.AUDIT_DATA_DIR, { recursive: true });
    for (let attempt = 0; ; attempt++) {
      let candidate: Db | undefined;
      try {
        candidate = await openDb({ url: config.DATABASE_URL, dataDir: config.AUDIT_DATA_DIR });
        const { applied, writerRole } = await migrate(candidate);
        candidate.useRole(writerRole);
        head = await readHead(candidate);
        const cps = await readCheckpoints(candidate);
        lastCheckpoint = { seq: cps[cps.length - 1]?.seq ?? 0, at: clock() };
        log.info(
          { database: candidate.flavor, applied, writer_role: writerRole ?? null, head: head.seq },
          "audit store ready",
        );
        dbUp = true;
        return candidate;
      } catch (err) {
        await candidate?.close();
        if (stopped() || !isConnectionError(err)) throw err;
        dbUp = false;
        log.warn({ err, attempt }, "audit store unavailable at start: retrying");
        await backoff(attempt);
        if (stopped()) throw err;
      }
    }
  }

  async function ensureConsumer(): Promise<Consumer> {
    const jsm = await jetstreamManager(nc);
    const wanted = {
      durable_name: config.AUDIT_CONSUMER,
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
      max_ack_pending: config.AUDIT_MAX_ACK_PENDING,
      ack_wait: nanos(config.AUDIT_ACK_WAIT_S * 1000),
      max_deliver: -1,
    };
    try {
      await jsm.consumers.info(stream, config.AUDIT_CONSUMER);
      await jsm.consumers.update(stream, config.AUDIT_CONSUMER, {
        max_ack_pending: wanted.max_ack_pending,
        ack_wait: wanted.ack_wait,
      });
    } catch {
      await jsm.consumers.add(stream, wanted);
    }
    return jetstream(nc).consumers.get(stream, config.AUDIT_CONSUMER);
  }

  /**
   * Called by nats.js for each delivered message (consume's callback form: no
   * async iterator, so no promise and iterator result per message).
   */
  function receive(m: JsMsg): void {
    const r = new Received(m, Date.now(), streamSequenceOf(m));
    if (queue.size < config.AUDIT_BATCH_MAX) prepareReceived(r);
    queue.set(r.streamSeq, r);
    if (queue.size >= wantQueued) signal();
  }

  /** Takes the oldest queued messages, preparing those not prepared on receipt. */
  function takeBatch(): Received[] {
    const batch: Received[] = [];
    for (const [seq, r] of queue) {
      queue.delete(seq);
      if (r.event === PENDING) prepareReceived(r);
      batch.push(r);
      if (batch.length >= config.AUDIT_BATCH_MAX) break;
    }
    return batch;
  }

  function prepareReceived(r: Received): void {
    const event = prepare(r.msg, r.streamSeq);
    const data = canonicalJson(event.data);
    r.prepared(event, canonicalEvent(event, data), data, isSampled(r.msg));
  }

  function prepare(m: JsMsg, streamSeq: number): ChainEvent {
    // A plain object, no getter: nats.js's consumer has already decoded the
    // subject (it compares it with its inbox), so reading it costs nothing.
    const result = ingest(m.data, { subject: m.subject, stream, streamSeq }, clock);
    if (!result.ok) {
      invalid += 1;
      log.warn(
        { subject: m.subject, code: result.code, stream_seq: streamSeq },
        "invalid audit event stored as invalid_event",
      );
    } else if (result.redactedPaths.length > 0) {
      // Raised when the event is prepared for storing, on a redelivery too: a
      // message given back before it was prepared (stop, crash) must still
      // alarm when it comes again. At least once, so a repeat is possible.
      raiseRedactionAlarm(result.event, result.redactedPaths);
    }
    return result.event;
  }

  function raiseRedactionAlarm(event: ChainEvent, paths: readonly string[]): void {
    redactions += paths.length;
    redactionCounter.add(paths.length, { service: event.service, kind: event.kind });
    log.error(
      { event_id: event.id, from_service: event.service, kind: event.kind, paths },
      "redaction alarm: an audit event carried a secret-looking value; it was stored redacted",
    );
    publisher
      ?.record({
        kind: "redaction_alarm",
        outcome: "error",
        data: { event_id: event.id, service: event.service, kind: event.kind, paths: [...paths] },
      })
      .catch((err: unknown) => log.error({ err }, "could not publish the redaction alarm"));
  }

  /** Acks a committed batch (only now) and accounts for it. */
  async function committed(batch: readonly Received[], result: AppendResult): Promise<void> {
    ackCommitted(batch);
    traceStored(batch, result);
    stored += result.stored.length;
    duplicates += result.skipped;
    if (result.stored.length > 0) {
      storedCounter.add(result.stored.length);
      if (result.head.seq >= head.seq) head = result.head;
      deps.onStored?.(result.stored);
    }
    if (result.skipped > 0) duplicateCounter.add(result.skipped);
    if (head.seq - lastCheckpoint.seq >= config.AUDIT_CHECKPOINT_EVERY) {
      scheduleCheckpoint();
      await checkpointing;
    }
  }

  /**
   * The careful path for a batch whose one-statement append did not commit
   * (head moved, an id already stored, or the store failed): retried with
   * backoff until it commits or the service stops. `held` are the messages of
   * batches still waiting behind it; JetStream is kept from redelivering them too.
   */
  async function writeBatch(batch: Received[], held: readonly Received[] = []): Promise<void> {
    const events = batch.map((r) => r.event);
    const canonicals = batch.map((r) => r.canonical);
    const datas = batch.map((r) => r.data);
    for (let attempt = 0; ; attempt++) {
      try {
        const result = await appendEvents(db as Db, events, canonicals, head, datas);
        if (!dbUp) log.info({ attempt }, "audit store reachable again: catching up");
        dbUp = true;
        await committed(batch, result);
        return;
      } catch (err) {
        if (isConnectionError(err)) {
          if (dbUp) log.error({ err }, "audit store unavailable: holding events in JetStream");
          dbUp = false;
        } else {
          log.error({ err, attempt, events: events.length }, "audit batch failed: retrying");
        }
        if (stopped()) {
          for (const r of batch) r.msg.nak();
          return;
        }
        // Keep JetStream from redelivering the batches we are still holding.
        for (const r of batch) r.msg.working();
        for (const r of held) r.msg.working();
        await backoff(attempt);
      }
    }
  }

  /**
   * A batch sent to the store: linked after `tail` (the head the batch before
   * it will leave) and written with one statement that checks the locked head.
   */
  interface InFlight {
    readonly batch: Received[];
    readonly linked: LinkedBatch;
    /** true when committed; otherwise what went wrong (never rejects). */
    readonly outcome: Promise<true | { readonly failed: unknown }>;
  }

  // Where the chain will end once every batch in flight has committed.
  let tail: ChainHead = head;
  // Settles once the last batch sent holds the head lock (or is done): the
  // next batch is sent only then, so it cannot take the lock first (it would
  // find the head behind the one it was linked after, and be refused).
  let lastLocked: Promise<void> = Promise.resolve();

  function send(batch: Received[]): InFlight {
    const linked = prepareBatch(
      tail,
      batch.map((r) => r.event),
      batch.map((r) => r.canonical),
      batch.map((r) => r.data),
    );
    tail = linked.result.head;
    // Hashed and in the COPY bytes now: let these strings die young instead of
    // surviving a scavenge while the batch waits for its commit (a retry of the
    // batch computes them again).
    for (const r of batch) r.released();
    let locked: () => void = () => undefined;
    const behind = lastLocked;
    lastLocked = new Promise<void>((resolve) => {
      locked = resolve;
    });
    const outcome = tryAppend(db as Db, linked, { behind, locked })
      .then(
        (o) => (o.committed ? true : { failed: "head moved" }),
        (err: unknown) => ({ failed: err }),
      )
      .finally(locked);
    return { batch, linked, outcome };
  }

  /**
   * One writer, two batches in flight: while batch N commits (holding the head
   * row), batch N+1 is already linked after N's new head and sent on a second
   * connection, where it waits for the lock. If N does not commit as linked,
   * N+1 finds the head is not the one it expects and writes nothing; both then
   * take the careful path, which links after the real head.
   */
  async function writeLoop(): Promise<void> {
    const inflight: InFlight[] = [];
    tail = head;
    for (;;) {
      const full = queue.size >= config.AUDIT_BATCH_MAX;
      if (
        !stopped() &&
        inflight.length < PIPELINE_DEPTH &&
        (full || (queue.size > 0 && inflight.length === 0))
      ) {
        // Idle and not a full batch: first let the messages that already
        // arrived be read (one turn of the event loop, no timer), so a burst
        // becomes one batch instead of many tiny ones.
        if (!full) await setImmediate();
        if (!stopped()) inflight.push(send(takeBatch()));
        continue;
      }
      const first = inflight[0];
      if (first) {
        // Wait for the oldest batch, or for a full batch to send behind it.
        if (!stopped() && inflight.length < PIPELINE_DEPTH) {
          wantQueued = config.AUDIT_BATCH_MAX;
          const more = new Promise<false>((resolve) => {
            wake = () => resolve(false);
            if (queue.size >= wantQueued || stopped()) signal();
          });
          const settled = await Promise.race([first.outcome.then(() => true as const), more]);
          wake = undefined;
          wantQueued = 1;
          if (!settled) continue;
        }
        inflight.shift();
        const outcome = await first.outcome;
        if (outcome === true) {
          if (!dbUp) log.info("audit store reachable again: catching up");
          dbUp = true;
          await committed(first.batch, first.linked.result);
        } else {
          await writeBatch(
            first.batch,
            inflight.flatMap((f) => f.batch),
          );
          tail = head; // anything still in flight was linked after a guess that failed
        }
        if (inflight.length === 0) tail = head;
        continue;
      }
      if (stopped()) return;
      await new Promise<void>((resolve) => {
        wake = resolve;
        if (queue.size > 0 || stopped()) signal();
      });
    }
  }

  let checkpointQueued = false;
  function scheduleCheckpoint(): void {
    if (checkpointQueued) return;
    checkpointQueued = true;
    const run = () => {
      checkpointQueued = false;
      return writeCheckpoint();
    };
    checkpointing = checkpointing.then(run, run);
  }

  async function writeCheckpoint(): Promise<void> {
    const at = head;
    if (!db || !key || at.seq <= lastCheckpoint.seq || !dbUp) return;
    try {
      const time = new Date(clock()).toISOString();
      const jws = await signCheckpoint(key, { seq: at.seq, hash: at.hash, time });
      await insertCheckpoint(db, {
        seq: at.seq,
        hash: at.hash,
        signed_at: time,
        kid: key.kid,
        public_jwk: key.publicJwk as Record<string, unknown>,
        jws,
      });
      lastCheckpoint = { seq: at.seq, at: clock() };
      if (!nc.isClosed() && !nc.isDraining()) {
        nc.publish(
          subjects.audit.checkpoint,
          JSON.stringify({ seq: at.seq, hash: at.hash, time, kid: key.kid, jws }),
        );
      }
      log.info({ seq: at.seq }, "checkpoint signed");
    } catch (err) {
      log.warn({ err, seq: at.seq }, "checkpoint not written: will retry");
    }
  }

  async function pollLag(): Promise<void> {
    if (!consumer) return;
    try {
      const info = await consumer.info(false);
      lag = info.num_pending + info.num_ack_pending;
    } catch (err) {
      log.debug({ err }, "consumer info failed");
    }
  }

  return {
    start: async () => {
      if (started || stopping) return;
      db = await openStore();
      const keyFile =
        config.AUDIT_CHECKPOINT_KEY_FILE ?? join(config.AUDIT_DATA_DIR, "checkpoint-key.jwk");
      key = await loadSigningKey(keyFile, config.AUDIT_CHECKPOINT_KEY_FILE === undefined);
      publisher = createAuditPublisher(jetstream(nc), subjects, ServiceName.Audit, clock);
      consumer = await ensureConsumer();
      messages = await consumer.consume({
        max_messages: Math.min(2_000, config.AUDIT_MAX_ACK_PENDING),
        callback: receive,
      });
      loops.push(
        // A throw in `receive` stops the consumer (nats.js), as it ended the read loop before.
        messages.closed().then((err) => {
          if (err) log.error({ err }, "audit consumer stopped");
        }),
        writeLoop(),
      );
      const lagTimer = setInterval(() => void pollLag(), 1_000);
      const cpTimer = setInterval(() => {
        if (clock() - lastCheckpoint.at >= config.AUDIT_CHECKPOINT_INTERVAL_S * 1000)
          scheduleCheckpoint();
      }, 1_000);
      lagTimer.unref();
      cpTimer.unref();
      timers.push(lagTimer, cpTimer);
      started = true;
      await pollLag();
      log.info({ stream, consumer: config.AUDIT_CONSUMER, head: head.seq }, "audit consuming");
    },
    stop: () => {
      stopping ??= (async () => {
        for (const t of timers) clearInterval(t);
        abort.abort();
        messages?.stop();
        signal();
        await Promise.allSettled(loops);
        // Events received but not written go back to JetStream at once.
        for (const r of queue.values()) r.msg.nak();
        queue.clear();
        // A last checkpoint covers everything this instance stored.
        if (dbUp) scheduleCheckpoint();
        await checkpointing;
        await db?.close();
        started = false;
      })();
      return stopping;
    },
    ready: () => started && !stopped() && dbUp && lag <= config.AUDIT_READY_MAX_LAG,
    status: () => ({
      started,
      dbUp,
      lag,
      stored,
      duplicates,
      redactions,
      invalid,
      head,
      lastCheckpointSeq: lastCheckpoint.seq,
      database: config.DATABASE_URL ? "postgres" : "pglite",
    }),
  };
}

/** A message waiting in the service's queue, then the event prepared from it. */
class Received {
  readonly msg: JsMsg;
  /** The message's stream sequence (the queue's key). */
  readonly streamSeq: number;
  /** Arrival time; kept as `receivedAt` only for a sampled trace context. */
  readonly #at: number;
  event: ChainEvent = PENDING;
  canonical = "";
  /** `canonicalJson(event.data)`: part of `canonical`, and the stored data column ("" once released: computed again). */
  data = "";
  /** When a sampled trace context came with the event: the start of its store span. */
  receivedAt: number | undefined;

  constructor(msg: JsMsg, at: number, streamSeq: number) {
    this.msg = msg;
    this.#at = at;
    this.streamSeq = streamSeq;
  }

  /** Drops the canonical and data JSON (kept by the linked batch as hashes and COPY bytes). */
  released(): void {
    this.canonical = "";
    this.data = "";
  }

  prepared(event: ChainEvent, canonical: string, data: string, sampled: boolean): void {
    this.event = event;
    this.canonical = canonical;
    this.data = data;
    this.receivedAt = sampled ? this.#at : undefined;
  }
}

const PENDING: ChainEvent = Object.freeze({
  id: "",
  ts: "",
  service: "",
  kind: "",
  outcome: "",
  data: {},
});

const tracer = trace.getTracer("@upline/audit");

/** The part of nats.js's protocol handler (a message's `publisher`) that writes commands. */
interface ProtocolWriter {
  sendCommand(cmd: string): void;
  outMsgs: number;
  outBytes: number;
}

/** nats.js's JetStream message around its core message, as far as acking goes. */
interface AckableImpl {
  didAck?: unknown;
  reply?: unknown;
  msg?: { publisher?: unknown };
}

function protocolWriter(p: unknown): ProtocolWriter | undefined {
  const w = p as Partial<ProtocolWriter> | undefined;
  return typeof w?.sendCommand === "function" &&
    typeof w.outMsgs === "number" &&
    typeof w.outBytes === "number"
    ? (w as ProtocolWriter)
    : undefined;
}

/**
 * Acknowledges the messages of a committed batch. `msg.ack()` writes one
 * `PUB <reply> 4` command per message through nats.js's publish (an options
 * object, a command string, its bytes and three buffered parts each); here the
 * same commands are joined and handed to the connection's protocol handler as
 * one string, the way `ack()` hands it each command. A message whose nats.js
 * object does not have the expected shape is acked with `ack()`.
 */
function ackCommitted(batch: readonly Received[]): void {
  let writer: ProtocolWriter | undefined;
  let text = "";
  let n = 0;
  for (const r of batch) {
    const m = r.msg as unknown as AckableImpl;
    const w = protocolWriter(m.msg?.publisher);
    const reply = m.reply;
    if (
      w === undefined ||
      (writer !== undefined && w !== writer) ||
      typeof reply !== "string" ||
      reply.length === 0 ||
      m.didAck !== false
    ) {
      r.msg.ack();
      continue;
    }
    writer = w;
    m.didAck = true; // as ack() marks it: a later ack/nak/working sends nothing
    text += `PUB ${reply} 4\r\n+ACK\r\n`;
    n++;
  }
  if (writer !== undefined && n > 0) {
    writer.outMsgs += n;
    writer.outBytes += 4 * n;
    writer.sendCommand(text);
  }
}

/**
 * The stream sequence of a JetStream message, read from its ack subject
 * without nats.js's `info` (which splits the subject into an array and builds
 * an object per message: the largest allocation of the read path). Falls back
 * to `info` when the subject does not have one of the two known shapes.
 */
function streamSequenceOf(m: JsMsg): number {
  // nats.js's message has `reply` (decoded once and kept: the ack uses it too);
  // its JsMsg type does not declare it.
  const reply = (m as { readonly reply?: unknown }).reply;
  return (
    (typeof reply === "string" ? streamSequenceFromReply(reply) : undefined) ??
    m.info.streamSequence
  );
}

/**
 * The stream sequence token of an ack subject, as nats.js's `parseInfo` reads it:
 * `$JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<dseq>.<ts>.<pending>` (9 tokens),
 * or with `<domain>.<account hash>` after `$JS.ACK` and any tokens after `<pending>`
 * (11 or more). Undefined for any other shape or a sequence that is not a
 * positive safe integer written in decimal digits.
 */
export function streamSequenceFromReply(reply: string): number | undefined {
  if (!reply.startsWith("$JS.ACK.")) return undefined;
  let dots = 0;
  let start5 = -1; // first character of token 5 (v1's sseq)
  let start7 = -1; // first character of token 7 (v2's sseq)
  for (let i = 0; i < reply.length; i++) {
    if (reply.charCodeAt(i) !== 0x2e) continue;
    dots++;
    if (dots === 5) start5 = i + 1;
    else if (dots === 7) start7 = i + 1;
  }
  const tokens = dots + 1;
  const start = tokens === 9 ? start5 : tokens >= 11 ? start7 : -1;
  if (start < 0) return undefined;
  let n = 0;
  let i = start;
  for (; i < reply.length; i++) {
    const c = reply.charCodeAt(i);
    if (c === 0x2e) break;
    if (c < 0x30 || c > 0x39) return undefined;
    n = n * 10 + (c - 0x30);
  }
  return i > start && n > 0 && Number.isSafeInteger(n) ? n : undefined;
}

/** A `traceparent` whose flags mark the trace as sampled: only those get a store span. */
function isSampled(m: JsMsg): boolean {
  // Most events carry only Nats-Msg-Id: when the raw header block does not
  // even contain the key's bytes, skip decoding it into a map (nats.js keeps
  // keys as sent and `get` matches them exactly, so this is only a shortcut).
  if (headerBlockLacks(m, TRACEPARENT)) return false;
  const tp = m.headers?.get("traceparent");
  return tp?.endsWith("-01") === true;
}

const TRACEPARENT = Buffer.from("traceparent");

/**
 * True when the message's undecoded header block certainly does not contain
 * `needle`; false when it may (or nats.js's message does not have the expected shape).
 */
export function headerBlockLacks(m: JsMsg, needle: Buffer): boolean {
  const inner = (m as unknown as { msg?: { _msg?: { hdr?: unknown }; _rdata?: unknown } }).msg;
  const hdr = inner?._msg?.hdr;
  const data = inner?._rdata;
  if (typeof hdr !== "number" || !(data instanceof Uint8Array) || hdr > data.byteLength) {
    return false;
  }
  if (hdr <= 0) return true; // no header block
  // The message bytes are the header block, then the body. nats.js hands out
  // Buffers: search them in place (no view per message). The first occurrence
  // ending past the block (or none) means the block has none.
  const at = Buffer.isBuffer(data)
    ? data.indexOf(needle)
    : Buffer.from(data.buffer, data.byteOffset, hdr).indexOf(needle);
  return at === -1 || at + needle.length > hdr;
}

const headerGetter = {
  keys: (h: NonNullable<JsMsg["headers"]>) => h.keys(),
  get: (h: NonNullable<JsMsg["headers"]>, key: string) => (h.has(key) ? h.get(key) : undefined),
};

/**
 * One span per stored event that arrived with a sampled trace context, from
 * receipt to commit, as a child of the publisher's span: the last hop of an
 * order's trace. Unsampled events (the bulk) cost nothing here.
 */
function traceStored(
  batch: readonly { msg: JsMsg; event: ChainEvent; receivedAt: number | undefined }[],
  result: AppendResult,
): void {
  let seqById: Map<string, number> | undefined;
  for (const r of batch) {
    if (r.receivedAt === undefined || r.msg.headers === undefined) continue;
    seqById ??= new Map(result.stored.map((row) => [row.id, row.seq]));
    const parent = propagation.extract(context.active(), r.msg.headers, headerGetter);
    const seq = seqById.get(r.event.id);
    const span = tracer.startSpan(
      `audit store ${r.event.kind}`,
      {
        kind: SpanKind.CONSUMER,
        startTime: r.receivedAt,
        attributes: {
          "messaging.system": "nats",
          "audit.event_id": r.event.id,
          "audit.service": r.event.service,
          "audit.stored": seq !== undefined,
          ...(seq === undefined ? {} : { "audit.seq": Number(seq) }),
        },
      },
      parent,
    );
    span.end();
  }
}
