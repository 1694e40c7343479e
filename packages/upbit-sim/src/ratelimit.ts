/**
 * Upbit's per-group request budgets: fixed windows per (client, group), 429 when a
 * window is spent, and a growing 418 ban for a client that keeps sending after 429s.
 * Pure: every call takes the current time.
 */
import type { RateGroupLimit, RateLimitOptions } from "./types.ts";

export const DEFAULT_GROUPS: Readonly<Record<string, RateGroupLimit>> = {
  market: { limit: 10, windowMs: 1000 },
  candles: { limit: 10, windowMs: 1000 },
  trade: { limit: 10, windowMs: 1000 },
  ticker: { limit: 10, windowMs: 1000 },
  orderbook: { limit: 10, windowMs: 1000 },
  default: { limit: 30, windowMs: 1000 },
  order: { limit: 12, windowMs: 1000 },
  "order-test": { limit: 8, windowMs: 1000 },
  "order-cancel-all": { limit: 1, windowMs: 2000 },
  "websocket-connect": { limit: 5, windowMs: 1000 },
};

/** The deprecated `min=` figure real responses still carry. */
const MIN_FIGURE: Readonly<Record<string, number>> = { default: 1800, order: 1800 };

export type RateDecision =
  | { readonly kind: "ok"; readonly remaining: number }
  | { readonly kind: "limited"; readonly remaining: 0 }
  | { readonly kind: "banned"; readonly untilMs: number };

interface Window {
  start: number;
  used: number;
}

interface Offender {
  strikes: number;
  strikesSince: number;
  bans: number;
  bannedUntil: number;
}

export class RateLimiter {
  readonly #groups: Record<string, RateGroupLimit>;
  readonly #enabled: boolean;
  readonly #teapotAfter: number;
  readonly #banMs: number;
  #windows = new Map<string, Window>();
  #offenders = new Map<string, Offender>();

  constructor(options: RateLimitOptions | false | undefined) {
    this.#enabled = options !== false;
    const o = options === false ? undefined : options;
    this.#groups = { ...DEFAULT_GROUPS, ...(o?.groups ?? {}) };
    if (o?.order !== undefined) this.#groups.order = { limit: o.order, windowMs: 1000 };
    this.#teapotAfter = o?.teapotAfter ?? 10;
    this.#banMs = o?.banMs ?? 2000;
  }

  get enabled(): boolean {
    return this.#enabled;
  }

  limitOf(group: string): RateGroupLimit {
    return this.#groups[group] ?? { limit: 30, windowMs: 1000 };
  }

  /** `group=…; min=…; sec=…` */
  header(group: string, remaining: number): string {
    return `group=${group}; min=${MIN_FIGURE[group] ?? 600}; sec=${remaining}`;
  }

  /** Counts one request of `client` (an IP or a pocket) against `group`. */
  take(client: string, group: string, now: number): RateDecision {
    const g = this.limitOf(group);
    if (!this.#enabled) return { kind: "ok", remaining: g.limit - 1 };
    const offender = this.#offenders.get(client);
    if (offender !== undefined && offender.bannedUntil > now)
      return { kind: "banned", untilMs: offender.bannedUntil };
    const key = `${client}\u0000${group}`;
    const start = now - (now % g.windowMs);
    let w = this.#windows.get(key);
    if (w === undefined || w.start !== start) {
      w = { start, used: 0 };
      this.#windows.set(key, w);
    }
    if (w.used >= g.limit) return this.#strike(client, now);
    w.used += 1;
    return { kind: "ok", remaining: g.limit - w.used };
  }

  /** Remaining budget without counting (for responses that bypass counting). */
  peek(client: string, group: string, now: number): number {
    const g = this.limitOf(group);
    const w = this.#windows.get(`${client}\u0000${group}`);
    if (w === undefined || w.start !== now - (now % g.windowMs)) return g.limit;
    return Math.max(0, g.limit - w.used);
  }

  /** A 429 counts as a strike; `teapotAfter` strikes within 10 s ban the client, each ban twice as long. */
  #strike(client: string, now: number): RateDecision {
    let o = this.#offenders.get(client);
    if (o === undefined) {
      o = { strikes: 0, strikesSince: now, bans: 0, bannedUntil: 0 };
      this.#offenders.set(client, o);
    }
    if (now - o.strikesSince > 10_000) {
      o.strikes = 0;
      o.strikesSince = now;
    }
    o.strikes += 1;
    if (o.strikes > this.#teapotAfter) {
      o.bannedUntil = now + this.#banMs * 2 ** o.bans;
      o.bans += 1;
      o.strikes = 0;
      o.strikesSince = now;
      return { kind: "banned", untilMs: o.bannedUntil };
    }
    return { kind: "limited", remaining: 0 };
  }

  reset(): void {
    this.#windows.clear();
    this.#offenders.clear();
  }
}
