/**
 * Per-market feed health as a pure function of what the feed knows and the
 * clock: `disconnected` while the market's connection is down, `stale` when
 * nothing arrived for `freshMs`, `fresh` otherwise.
 */
import type { FeedHealth } from "@upline/shared";

export interface MarketHealthInput {
  readonly market: string;
  readonly connected: boolean;
  /** Newest exchange timestamp seen (epoch ms). */
  readonly lastExchangeTs?: number | undefined;
  /** Local time the last event arrived (epoch ms). */
  readonly lastEventAt?: number | undefined;
  readonly gaps: number;
  readonly reconnects: number;
}

export function marketHealth(m: MarketHealthInput, now: number, freshMs: number): FeedHealth {
  const staleness = m.lastEventAt === undefined ? undefined : Math.max(0, now - m.lastEventAt);
  const state = !m.connected
    ? "disconnected"
    : staleness === undefined || staleness >= freshMs
      ? "stale"
      : "fresh";
  return {
    market: m.market,
    state,
    ...(m.lastExchangeTs === undefined ? {} : { last_exchange_ts: m.lastExchangeTs }),
    ...(staleness === undefined ? {} : { staleness_ms: Math.round(staleness) }),
    gaps: m.gaps,
    reconnects: m.reconnects,
    ts: new Date(now).toISOString(),
  };
}

/** Ready only while every market is subscribed and fresh. */
export function isReady(health: readonly FeedHealth[]): boolean {
  return health.length > 0 && health.every((h) => h.state === "fresh");
}
