/**
 * Order execution: risk → idempotency claim → signed, audited REST call →
 * outcome stored, replied and published. Outcomes (DESIGN.md):
 * 2xx accepted; 4xx rejected with Upbit's error name, never retried; 5xx,
 * timeout or reset → `unknown`, then looked up by identifier with backoff
 * until found, or proven absent and only then resubmitted with the same
 * identifier. A POST is never retried blindly. Fail closed: nothing is sent
 * before JetStream acknowledged its audit record.
 */
import {
  type AuditPublisher,
  type CancelReply,
  type CancelRequest,
  type ErrorCode,
  type Logger,
  type OrderEvent,
  type OrderEventType,
  type OrderIntent,
  type OrderRef,
  type OrderReply,
  type OrderStatus,
  type TradingState,
  UplineError,
} from "@upline/shared";
import {
  type CallOptions,
  type ExchangeCall,
  isUpbitRestError,
  type OrderApi,
  orderRequests,
  type SignedGrant,
  type UpbitOrder,
} from "@upline/upbit";
import { ClaimState, type Claims } from "./claims.ts";
import { isoTime } from "./fast-encode.ts";
import {
  checkIntent,
  type MarketRules,
  type RateCapState,
  type RiskLimits,
  rateCap,
} from "./risk.ts";

/** Asks the signer for a grant (the signer client's `sign`, narrowed). */
export type ExchangeCallSigner = (keyId: string, call: ExchangeCall) => Promise<SignedGrant>;

export interface ExecSettings {
  readonly accounts: Readonly<Record<string, string>>;
  readonly limits: RiskLimits;
  readonly maxOrdersPerS: number;
  readonly queueMs: number;
  readonly absentAfterMs: number;
  readonly resolveMs: number;
  /** How long a repeated intent waits for the first one's outcome (default 5 s). */
  readonly duplicateWaitMs?: number;
  /** First lookup delay for an unknown order; doubles with full jitter up to 2 s (default 100 ms). */
  readonly lookupBaseMs?: number;
}

export interface ExecDeps {
  readonly api: OrderApi;
  readonly sign: ExchangeCallSigner;
  readonly claims: Claims;
  readonly audit: AuditPublisher;
  readonly publishEvent: (event: OrderEvent) => Promise<void>;
  readonly trading: () => TradingState;
  readonly rules: (market: string) => MarketRules | undefined;
  readonly logger: Logger;
  readonly settings: ExecSettings;
  readonly clock?: () => number;
  readonly random?: () => number;
  readonly sleep?: (ms: number) => Promise<void>;
}

/** A stale claim as recover.ts found it in KV `order-ids`. */
export interface RecoveredClaim {
  readonly account: string;
  readonly clientOrderId: string;
  readonly market: string;
  readonly state: ClaimState;
  /** The claim's last update before the lease (epoch ms): the send was not after it. */
  readonly at: number;
}

export interface Executor {
  readonly place: (intent: OrderIntent) => Promise<OrderReply>;
  readonly cancel: (request: CancelRequest) => Promise<CancelReply>;
  readonly get: (ref: OrderRef) => Promise<OrderStatus>;
  /** Background work (outcome storage, lookups of unknown orders) still running. */
  readonly pending: () => number;
  /**
   * Restart recovery of one stale `pending`/`unknown` claim whose lease this
   * replica holds (recover.ts): looked up by identifier like {@link resolve};
   * found → accepted (KV, audit, event); proven absent → rejected with
   * `ORDER_NOT_FOUND` (the intent is not in KV, so it is never resubmitted);
   * neither within `resolveMs` → left as it is (a later scan tries again).
   */
  readonly recover: (claim: RecoveredClaim) => Promise<"accepted" | "absent" | "unresolved">;
  /** Stops lookups after their current step and waits for background work. */
  readonly stop: () => Promise<void>;
  /** Whether the last audit publish failed (orders are refused until one succeeds). */
  readonly auditFailing: () => boolean;
}

const defaultSleep = (ms: number) =>
  new Promise<void>((resolve) => {
    setTimeout(resolve, Math.max(0, ms));
  });

/**
 * Resolves after the current turn's replies were written: in the next loop
 * turn, not only the next macrotask, because a connection with coalesced
 * writes (coalesce.ts) flushes in this turn's check phase, and the outcome's
 * storage must not run before — and delay — that flush.
 */
const afterReply = () =>
  new Promise<void>((resolve) => {
    setImmediate(() => setImmediate(resolve));
  });

const errorBody = (err: UplineError) => ({
  code: err.code,
  message: err.message,
  ...(isUpbitRestError(err) && err.exchangeError !== undefined
    ? { exchange_error: err.exchangeError }
    : {}),
});

export function createExecutor(deps: ExecDeps): Executor {
  const { api, claims, audit, settings } = deps;
  const log = deps.logger;
  const clock = deps.clock ?? Date.now;
  const random = deps.random ?? Math.random;
  const sleep = deps.sleep ?? defaultSleep;
  const background = new Set<Promise<unknown>>();
  let stopping = false;
  let cap: RateCapState = { second: 0, count: 0 };
  let auditFailing = false;
  /**
   * Orders of this replica from their claim until their outcome is stored in
   * KV: a repeat arriving here meanwhile (notably between the reply and the
   * KV write) answers from memory with the first one's reply; undefined means
   * the claim was given back (nothing sent), so the repeat claims for itself.
   * Other replicas see the KV entry `pending` and wait for the outcome.
   */
  const inFlight = new Map<string, Promise<OrderReply | undefined>>();
  const flightKey = (intent: OrderIntent) => `${intent.account}\n${intent.client_order_id}`;

  const track = (p: Promise<unknown>) => {
    const q = p.catch((err: unknown) => log.error({ err }, "background order work failed"));
    background.add(q);
    void q.finally(() => background.delete(q));
  };

  /** Audits and waits for JetStream's ack; ORDER_AUDIT_UNAVAILABLE otherwise. */
  const auditAcked = async (
    kind: string,
    outcome: "ok" | "error" | "denied",
    data: Record<string, unknown>,
  ) => {
    try {
      await audit.record({ kind, outcome, data });
      auditFailing = false;
    } catch (err) {
      auditFailing = true;
      throw new UplineError(
        "ORDER_AUDIT_UNAVAILABLE",
        "the audit record was not acknowledged; nothing was sent",
        {
          cause: err,
        },
      );
    }
  };
  /** Audits a response; a failure is logged and refuses further orders until audit works again. */
  const auditResponse = (
    kind: string,
    outcome: "ok" | "error" | "denied",
    data: Record<string, unknown>,
  ) =>
    auditAcked(kind, outcome, data).catch((err: unknown) =>
      log.error({ err, kind }, "response audit failed"),
    );

  const keyOf = (account: string): string => {
    const keyId = settings.accounts[account];
    if (keyId === undefined)
      throw new UplineError(
        "ORDER_ACCOUNT_UNKNOWN",
        `no exchange key configured for account ${account}`,
      );
    return keyId;
  };

  const event = (
    type: OrderEventType,
    intent: OrderIntent,
    extra: Partial<OrderEvent> = {},
  ): OrderEvent => ({
    id: `${intent.account}.${intent.client_order_id}.${type}`,
    type,
    ts: isoTime(clock()),
    account: intent.account,
    market: intent.market,
    client_order_id: intent.client_order_id,
    side: intent.side,
    ord_type: intent.ord_type,
    ...(intent.price === undefined ? {} : { price: intent.price }),
    ...(intent.volume === undefined ? {} : { volume: intent.volume }),
    ...extra,
  });

  const publish = (e: OrderEvent) =>
    deps
      .publishEvent(e)
      .catch((err: unknown) => log.error({ err, event: e.id }, "order event not published"));

  const intentData = (intent: OrderIntent) => ({
    client_order_id: intent.client_order_id,
    account: intent.account,
    market: intent.market,
    side: intent.side,
    ord_type: intent.ord_type,
    price: intent.price,
    volume: intent.volume,
    time_in_force: intent.time_in_force,
  });

  /** A refusal before anything was sent: audited, replied, no claim kept. */
  const refuse = async (intent: OrderIntent, err: UplineError): Promise<OrderReply> => {
    await auditResponse("order_refused", "denied", {
      ...intentData(intent),
      code: err.code,
      reason: err.message,
    });
    return { status: "rejected", client_order_id: intent.client_order_id, error: errorBody(err) };
  };

  const submitCall = (intent: OrderIntent) =>
    orderRequests.submitOrder({
      market: intent.market,
      side: intent.side,
      ord_type: intent.ord_type,
      price: intent.price,
      volume: intent.volume,
      time_in_force: intent.time_in_force,
      identifier: intent.client_order_id,
    });

  type Sent =
    | { readonly kind: "accepted"; readonly order: UpbitOrder }
    | { readonly kind: "rejected"; readonly error: UplineError }
    /** Nothing reached the exchange: the claim can be given back. */
    | { readonly kind: "not_sent"; readonly error: UplineError }
    | { readonly kind: "unknown"; readonly error: UplineError; readonly sentAt: number };

  /**
   * Sends one order: a fresh grant per attempt (a 429'd request burnt its
   * nonce); a 429 means it was not placed and waits for the governor again;
   * anything that may have reached the matching engine ends the attempt.
   */
  const send = async (
    intent: OrderIntent,
    keyId: string,
    first: SignedGrant | undefined,
    deadlineMs: number,
  ): Promise<Sent> => {
    let grant = first;
    for (;;) {
      const sentAt = clock();
      try {
        grant ??= await deps.sign(keyId, submitCall(intent));
      } catch (err) {
        return { kind: "not_sent", error: asUpline(err) };
      }
      const options: CallOptions = { deadlineMs };
      try {
        const order = await api.submitOrder(grant, options);
        return { kind: "accepted", order };
      } catch (err) {
        grant = undefined;
        if (!isUpbitRestError(err)) {
          // A 2xx we could not read, or a bug: the order may exist.
          return { kind: "unknown", error: asUpline(err), sentAt };
        }
        if (err.code === "UPBIT_RATE_LIMITED") {
          if (err.status === 429 && clock() < deadlineMs) continue;
          return { kind: "not_sent", error: err };
        }
        if (err.code === "UPBIT_BANNED") return { kind: "not_sent", error: err };
        if (err.code === "UPBIT_REST_REJECTED" || err.code === "UPBIT_AUTH_FAILED")
          return { kind: "rejected", error: err };
        return err.outcomeUnknown
          ? { kind: "unknown", error: err, sentAt }
          : { kind: "not_sent", error: err };
      }
    }
  };

  const acceptedReply = (intent: OrderIntent, order: UpbitOrder): OrderReply => ({
    status: "accepted",
    client_order_id: intent.client_order_id,
    uuid: order.uuid,
  });

  /** Stores, audits and publishes an outcome (after the caller has been answered). */
  const record = async (intent: OrderIntent, outcome: Sent, reply: OrderReply) => {
    if (outcome.kind === "not_sent") return;
    const at = clock();
    const data = {
      ...intentData(intent),
      status: reply.status,
      uuid: reply.uuid,
      code: reply.error?.code,
      exchange_error: reply.error?.exchange_error,
    };
    // Settle the claim, audit the response and publish the event: one shape for
    // every outcome that may have reached the exchange.
    const [state, audited, fields]: [ClaimState, "ok" | "error", Partial<OrderEvent>] =
      outcome.kind === "accepted"
        ? [ClaimState.Accepted, "ok", { uuid: outcome.order.uuid }]
        : [
            outcome.kind === "rejected" ? ClaimState.Rejected : ClaimState.Unknown,
            "error",
            { error: errorBody(outcome.error) },
          ];
    await Promise.all([
      claims.settle(intent.account, intent.client_order_id, {
        state,
        at,
        market: intent.market,
        reply,
      }),
      auditResponse("order_response", audited, data),
      publish(event(outcome.kind, intent, fields)),
    ]);
  };

  /**
   * Looks an order up by identifier with exponential backoff and full jitter,
   * within `resolveMs` of the call that made it. Each call of the returned
   * function looks until the order is found, or proven absent — not found
   * twice, the second time at least `absentAfterMs` after `sentAt` — and
   * answers undefined once the time is up or the executor stops.
   */
  const lookups = (clientOrderId: string, keyId: string, waitFirst: boolean) => {
    const started = clock();
    const base = settings.lookupBaseMs ?? 100;
    let attempt = 0;
    return async (sentAt: number): Promise<{ order: UpbitOrder } | "absent" | undefined> => {
      let notFound = 0;
      while (!stopping && clock() - started < settings.resolveMs) {
        if (attempt > 0 || waitFirst)
          await sleep(random() * Math.min(2_000, base * 2 ** Math.min(attempt, 10)));
        attempt++;
        try {
          const call = orderRequests.getOrder({ identifier: clientOrderId });
          const order = await api.getOrderByIdentifier(
            clientOrderId,
            await deps.sign(keyId, call),
            { deadlineMs: clock() + settings.queueMs },
          );
          return { order };
        } catch (err) {
          if (
            isUpbitRestError(err, "UPBIT_REST_REJECTED") &&
            err.exchangeError === "order_not_found"
          ) {
            notFound++;
            if (notFound >= 2 && clock() - sentAt >= settings.absentAfterMs) return "absent";
          } else log.warn({ err, client_order_id: clientOrderId }, "order lookup failed");
        }
      }
      return undefined;
    };
  };

  /**
   * Finds out what happened to an order whose outcome is unknown: looked up
   * until found → accepted, or proven absent → resubmitted with the same
   * identifier (Upbit refuses a duplicate identifier, so even a late original
   * cannot make two orders), and looked up again if that answer is lost too.
   */
  const resolve = async (intent: OrderIntent, keyId: string, firstSentAt: number) => {
    const next = lookups(intent.client_order_id, keyId, true);
    let sentAt = firstSentAt;
    for (;;) {
      const found = await next(sentAt);
      if (found === undefined) break;
      if (found !== "absent") return finish(intent, { kind: "accepted", order: found.order });
      await auditAcked("order_submit", "ok", {
        ...intentData(intent),
        resubmit: true,
        reason: "proven absent",
      });
      const outcome = await send(intent, keyId, undefined, clock() + settings.queueMs);
      if (outcome.kind === "unknown") sentAt = outcome.sentAt;
      // Not sent (no grant, queue deadline): proven absent still, tried again after two lookups.
      if (outcome.kind === "unknown" || outcome.kind === "not_sent") continue;
      return finish(intent, outcome);
    }
    if (!stopping)
      log.error(
        { client_order_id: intent.client_order_id, account: intent.account },
        "ALARM: order outcome still unknown after lookups; reconcile by hand",
      );
  };

  const finish = async (intent: OrderIntent, outcome: Sent) => {
    const reply: OrderReply =
      outcome.kind === "accepted"
        ? acceptedReply(intent, outcome.order)
        : {
            status: "rejected",
            client_order_id: intent.client_order_id,
            ...(outcome.kind === "rejected" ? { error: errorBody(outcome.error) } : {}),
          };
    await record(intent, outcome, reply);
  };

  const duplicate = async (
    intent: OrderIntent,
    first: { record: { state: string; reply?: OrderReply } | undefined },
  ): Promise<OrderReply | undefined> => {
    let rec = first.record;
    if (rec === undefined || rec.state === ClaimState.Pending) {
      rec = await claims.waitSettled(
        intent.account,
        intent.client_order_id,
        settings.duplicateWaitMs ?? 5_000,
      );
      if (rec === undefined) return undefined;
    }
    if (rec.reply !== undefined && rec.state !== ClaimState.Pending) return rec.reply;
    return { status: "unknown", client_order_id: intent.client_order_id };
  };

  const place = async (intent: OrderIntent): Promise<OrderReply> => {
    const now = clock();
    let keyId: string;
    try {
      keyId = keyOf(intent.account);
      checkIntent(intent, {
        now,
        trading: deps.trading(),
        limits: settings.limits,
        rules: deps.rules(intent.market),
      });
      const c = rateCap(cap, now, settings.maxOrdersPerS);
      cap = c.state;
      if (!c.allowed)
        throw new UplineError(
          "ORDER_RATE_CAPPED",
          `more than ${settings.maxOrdersPerS} intents per second`,
        );
    } catch (err) {
      return refuse(intent, asUpline(err));
    }
    const fk = flightKey(intent);
    const earlier = inFlight.get(fk);
    if (earlier !== undefined) {
      const answer = await earlier;
      if (answer !== undefined) return answer;
      // The first one gave its claim back: nothing was sent; claim for ourselves.
    }
    let settleFlight!: (reply: OrderReply | undefined) => void;
    const flight = new Promise<OrderReply | undefined>((resolve) => {
      settleFlight = resolve;
    });
    inFlight.set(fk, flight);
    const done = (reply: OrderReply | undefined) => {
      settleFlight(reply);
      if (inFlight.get(fk) === flight) inFlight.delete(fk);
    };
    let sent = false;
    try {
      const r = await claimAndSend(intent, keyId, now, false, (reply, stored) => {
        sent = true;
        settleFlight(reply);
        void stored.finally(() => done(reply));
      });
      if (!sent) done(r.keep ? r.reply : undefined);
      return r.reply;
    } catch (err) {
      if (!sent) done(undefined);
      throw err;
    }
  };

  /**
   * Claim ∥ sign ∥ request audit; the POST goes out only once the claim is won
   * AND the audit record is acknowledged AND the grant is there. `sent` is
   * called with the reply as soon as the exchange answered, and the promise of
   * its storage (KV outcome, response audit, event).
   */
  const claimAndSend = async (
    intent: OrderIntent,
    keyId: string,
    now: number,
    retried: boolean,
    sent: (reply: OrderReply, stored: Promise<unknown>) => void,
  ): Promise<{ reply: OrderReply; keep: boolean }> => {
    const call = submitCall(intent);
    const [claimed, granted, audited] = await Promise.allSettled([
      claims.claim(intent.account, intent.client_order_id, {
        state: ClaimState.Pending,
        at: now,
        market: intent.market,
      }),
      deps.sign(keyId, call),
      auditAcked("order_submit", "ok", intentData(intent)),
    ]);
    if (claimed.status === "rejected")
      return { reply: await refuse(intent, asUpline(claimed.reason)), keep: false };
    const claim = claimed.value;
    if (!claim.won) {
      const answer = await duplicate(intent, claim);
      if (answer !== undefined) return { reply: answer, keep: true };
      if (retried)
        return {
          reply: { status: "unknown", client_order_id: intent.client_order_id },
          keep: true,
        };
      // Released by its claimer (nothing sent): claim again, once.
      return claimAndSend(intent, keyId, now, true, sent);
    }
    const release = () =>
      claims
        .release(intent.account, intent.client_order_id, claim.revision)
        .catch((err: unknown) => log.error({ err }, "claim not released"));
    if (audited.status === "rejected") {
      await release();
      return { reply: await refuse(intent, asUpline(audited.reason)), keep: false };
    }
    if (granted.status === "rejected") {
      await release();
      return { reply: await refuse(intent, asUpline(granted.reason)), keep: false };
    }
    const expires =
      intent.expires_at === undefined ? Number.POSITIVE_INFINITY : Date.parse(intent.expires_at);
    const outcome = await send(
      intent,
      keyId,
      granted.value,
      Math.min(expires, now + settings.queueMs),
    );
    if (outcome.kind === "not_sent") {
      await release();
      return { reply: await refuse(intent, outcome.error), keep: false };
    }
    const reply: OrderReply =
      outcome.kind === "accepted"
        ? acceptedReply(intent, outcome.order)
        : outcome.kind === "rejected"
          ? {
              status: "rejected",
              client_order_id: intent.client_order_id,
              error: errorBody(outcome.error),
            }
          : {
              status: "unknown",
              client_order_id: intent.client_order_id,
              error: errorBody(outcome.error),
            };
    // Stored (KV outcome, response audit, event) right after the reply has
    // gone out, not before it: repeats meanwhile answer from `inFlight` here
    // and wait on the KV entry (still `pending`) elsewhere.
    const stored = afterReply().then(() => record(intent, outcome, reply));
    sent(reply, stored);
    track(
      stored.then(() => {
        if (outcome.kind === "unknown") return resolve(intent, keyId, outcome.sentAt);
      }),
    );
    return { reply, keep: true };
  };

  // ---------------------------------------------------------------- cancels and reads

  const exchangeCall = async <T>(
    keyId: string,
    call: ExchangeCall,
    kind: string,
    data: Record<string, unknown>,
    run: (grant: SignedGrant) => Promise<T>,
  ): Promise<T> => {
    const grantP = deps.sign(keyId, call);
    const [grant] = await Promise.all([grantP, auditAcked(kind, "ok", data)]);
    try {
      const result = await run(grant);
      void auditResponse(`${kind}_response`, "ok", data);
      return result;
    } catch (err) {
      void auditResponse(`${kind}_response`, "error", { ...data, code: asUpline(err).code });
      throw err;
    }
  };

  const cancel = async (req: CancelRequest): Promise<CancelReply> => {
    const keyId = keyOf(req.account);
    const deadline = { deadlineMs: clock() + settings.queueMs };
    try {
      if ("all" in req) {
        const call = orderRequests.cancelAllOpen({
          ...(req.market === undefined ? {} : { market: req.market }),
          ...(req.side === undefined ? {} : { side: req.side }),
        });
        const r = await exchangeCall(keyId, call, "order_cancel_all", { ...req }, (g) =>
          api.cancelAllOpen(g, deadline),
        );
        return manyReply(r);
      }
      if ("uuids" in req || "client_order_ids" in req) {
        const ids =
          req.uuids !== undefined
            ? { uuids: req.uuids }
            : { identifiers: req.client_order_ids ?? [] };
        const call = orderRequests.cancelOrdersByIds(ids);
        const r = await exchangeCall(keyId, call, "order_cancel_many", { ...req }, (g) =>
          api.cancelOrdersByIds(g, deadline),
        );
        return manyReply(r);
      }
      const one = req as { uuid?: string; client_order_id?: string };
      const key =
        one.uuid !== undefined ? { uuid: one.uuid } : { identifier: one.client_order_id ?? "" };
      if ("replace_with" in req) return await cancelAndNew(keyId, req, key);
      const call = orderRequests.cancelOrder(key);
      const o = await exchangeCall(keyId, call, "order_cancel", { ...req }, (g) =>
        api.cancelOrder(key, g, deadline),
      );
      return {
        status: "accepted",
        cancelled: [{ uuid: o.uuid, ...(o.identifier ? { client_order_id: o.identifier } : {}) }],
        failed: [],
      };
    } catch (err) {
      const e = asUpline(err);
      return { status: "rejected", cancelled: [], failed: [], error: errorBody(notFound(e)) };
    }
  };

  const cancelAndNew = async (
    keyId: string,
    req: Extract<CancelRequest, { replace_with: unknown }>,
    key: { uuid: string } | { identifier: string },
  ): Promise<CancelReply> => {
    const trading = deps.trading();
    if (trading !== "active")
      throw new UplineError(
        "ORDER_TRADING_HALTED",
        `trading is ${trading}: cancel-and-new creates an order`,
      );
    const next = req.replace_with;
    const now = clock();
    const claimed = await claims.claim(req.account, next.client_order_id, {
      state: ClaimState.Pending,
      at: now,
      market: "",
    });
    if (!claimed.won && claimed.record?.reply !== undefined)
      return {
        status: "rejected",
        cancelled: [],
        failed: [],
        error: { code: "MESSAGE_INVALID", message: "the new client_order_id was already used" },
      };
    if (!claimed.won)
      throw new UplineError("MESSAGE_INVALID", "the new client_order_id is already in use");
    const call = orderRequests.cancelAndNew(key, {
      new_ord_type: next.ord_type,
      new_price: next.price,
      new_volume: next.volume,
      new_time_in_force: next.time_in_force,
      new_identifier: next.client_order_id,
    });
    try {
      const r = await exchangeCall(keyId, call, "order_cancel_and_new", { ...req }, (g) =>
        api.cancelAndNew(g, { deadlineMs: now + settings.queueMs }),
      );
      const reply: OrderReply = {
        status: "accepted",
        client_order_id: next.client_order_id,
        ...(r.new_order_uuid ? { uuid: r.new_order_uuid } : {}),
      };
      await claims.settle(req.account, next.client_order_id, {
        state: ClaimState.Accepted,
        at: clock(),
        market: r.market,
        reply,
      });
      return {
        status: "accepted",
        cancelled: [{ uuid: r.uuid, ...(r.identifier ? { client_order_id: r.identifier } : {}) }],
        failed: [],
        ...(r.new_order_uuid ? { new_uuid: r.new_order_uuid } : {}),
        new_client_order_id: next.client_order_id,
      };
    } catch (err) {
      const e = asUpline(err);
      const unknown = isUpbitRestError(e) && e.outcomeUnknown;
      if (unknown) {
        await claims.settle(req.account, next.client_order_id, {
          state: ClaimState.Unknown,
          at: clock(),
          market: "",
          reply: { status: "unknown", client_order_id: next.client_order_id, error: errorBody(e) },
        });
      } else {
        await claims
          .release(req.account, next.client_order_id, claimed.revision)
          .catch(() => undefined);
      }
      throw e;
    }
  };

  const get = async (ref: OrderRef): Promise<OrderStatus> => {
    const keyId = keyOf(ref.account);
    const key =
      ref.uuid !== undefined ? { uuid: ref.uuid } : { identifier: ref.client_order_id ?? "" };
    try {
      const grant = await deps.sign(keyId, orderRequests.getOrder(key));
      const o = await api.getOrder(key, grant, { deadlineMs: clock() + settings.queueMs });
      return {
        uuid: o.uuid,
        ...(o.identifier ? { client_order_id: o.identifier } : {}),
        market: o.market,
        side: o.side,
        ord_type: o.ord_type,
        state: o.state,
        ...(o.price ? { price: o.price } : {}),
        ...(o.volume ? { volume: o.volume } : {}),
        ...(o.remaining_volume ? { remaining_volume: o.remaining_volume } : {}),
        executed_volume: o.executed_volume ?? "0",
        created_at: o.created_at,
      };
    } catch (err) {
      throw notFound(asUpline(err));
    }
  };

  const recover = async (c: RecoveredClaim): Promise<"accepted" | "absent" | "unresolved"> => {
    const keyId = keyOf(c.account);
    const base = { client_order_id: c.clientOrderId, account: c.account, market: c.market };
    await auditAcked("order_recovery", "ok", { ...base, state: c.state, at: c.at });
    const found = await lookups(c.clientOrderId, keyId, false)(c.at);
    if (found === "absent") {
      // Proven absent. The intent itself is not kept in KV, so recovery
      // cannot resubmit it: the id ends rejected, typed and audited.
      const error = new UplineError(
        "ORDER_NOT_FOUND",
        "the order never reached the exchange (proven absent on restart recovery); not resubmitted",
      );
      const reply: OrderReply = {
        status: "rejected",
        client_order_id: c.clientOrderId,
        error: errorBody(error),
      };
      await claims.settle(c.account, c.clientOrderId, {
        state: ClaimState.Rejected,
        at: clock(),
        market: c.market,
        reply,
      });
      await auditResponse("order_response", "error", {
        ...base,
        status: "rejected",
        code: error.code,
        recovered: true,
      });
      return "absent";
    }
    if (found !== undefined) {
      const { order } = found;
      const intent = {
        client_order_id: c.clientOrderId,
        account: c.account,
        market: order.market,
        side: order.side,
        ord_type: order.ord_type,
        ...(order.price ? { price: order.price } : {}),
        ...(order.volume ? { volume: order.volume } : {}),
      } as OrderIntent;
      await record(intent, { kind: "accepted", order }, acceptedReply(intent, order));
      return "accepted";
    }
    if (!stopping)
      log.error(
        { client_order_id: c.clientOrderId, account: c.account },
        "ALARM: recovered order outcome still unknown after lookups; reconcile by hand",
      );
    return "unresolved";
  };

  return {
    place: (intent) => place(intent),
    recover: (c) => {
      const p = recover(c);
      track(p);
      return p;
    },
    cancel,
    get,
    pending: () => background.size,
    auditFailing: () => auditFailing,
    stop: async () => {
      stopping = true;
      while (background.size > 0) await Promise.allSettled([...background]);
    },
  };
}

function manyReply(r: {
  success: { orders: { uuid?: string | undefined; identifier?: string | null | undefined }[] };
  failed: { orders: { uuid?: string | undefined; identifier?: string | null | undefined }[] };
}): CancelReply {
  const entry = (o: { uuid?: string | undefined; identifier?: string | null | undefined }) => ({
    ...(o.uuid === undefined ? {} : { uuid: o.uuid }),
    ...(o.identifier ? { client_order_id: o.identifier } : {}),
  });
  return {
    status: "accepted",
    cancelled: r.success.orders.map((o) => ({
      uuid: o.uuid ?? "",
      ...(o.identifier ? { client_order_id: o.identifier } : {}),
    })),
    failed: r.failed.orders.map(entry),
  };
}

function notFound(err: UplineError): UplineError {
  if (isUpbitRestError(err, "UPBIT_REST_REJECTED") && err.exchangeError === "order_not_found")
    return new UplineError("ORDER_NOT_FOUND", err.message, { cause: err });
  return err;
}

export function asUpline(err: unknown): UplineError {
  if (err instanceof UplineError) return err;
  return new UplineError("INTERNAL" as ErrorCode, (err as Error)?.message ?? String(err), {
    cause: err,
  });
}
