/**
 * Audit without putting JetStream's ack on the signing path: each event is
 * published at once and its ack awaited in the background, with a bound on
 * events in flight. Fail closed: while the bound is reached, or after AUDIT
 * refused an event (until one is acknowledged again), grants are refused.
 */
import type { AuditPublisher, AuditRecord, Logger } from "@upline/shared";

export interface AuditSink {
  /** Publishes an event; never throws, never waits for the ack. */
  readonly record: (event: AuditRecord) => void;
  /** May a grant be made now (audit healthy and not saturated)? */
  readonly canGrant: () => boolean;
  readonly inFlight: () => number;
  /** Resolves once every event in flight is acknowledged or failed. */
  readonly drain: () => Promise<void>;
}

export function createAuditSink(
  publisher: AuditPublisher,
  options: {
    readonly maxInFlight: number;
    readonly logger: Logger;
    readonly onFailure?: () => void;
  },
): AuditSink {
  const pending = new Set<Promise<unknown>>();
  let healthy = true;
  return {
    record: (event) => {
      const p = publisher.record(event).then(
        () => {
          healthy = true;
        },
        (err: unknown) => {
          if (healthy)
            options.logger.error(
              { err, kind: event.kind },
              "audit event not acknowledged: refusing grants",
            );
          healthy = false;
          options.onFailure?.();
        },
      );
      pending.add(p);
      void p.finally(() => pending.delete(p));
    },
    canGrant: () => healthy && pending.size < options.maxInFlight,
    inFlight: () => pending.size,
    drain: async () => {
      while (pending.size > 0) await Promise.allSettled([...pending]);
    },
  };
}
