/**
 * The rate governor's decisions, as pure functions of a group's shared state,
 * the group's limit and the time (upbit-api.md §3). Upbit counts fixed windows
 * aligned to the clock, per group and per pocket (exchange) or IP (quotation).
 *
 * - Pacing: the n-th request of a window may start at `window + n × spacing`,
 *   where `spacing = SPREAD × (windowMs − guardMs) / limit`: a window's budget
 *   is spread over its first 70 % (a 429 storm then costs one request, not a
 *   burst), and the rest is room for slots whose wake-up came late (a loaded
 *   machine, a race between replicas), so lateness does not cost the window
 *   part of its budget. No request leaves in the last `guardMs` of a window,
 *   where it could arrive in the next one.
 * - Every `Remaining-Req` raises the window's count to what the exchange says
 *   it has counted (`limit − sec`), never lowers it.
 * - A 429 blocks the group until the next window, doubling per consecutive
 *   429 (1, 2, 4 … windows, at most 32); while strikes remain, one probe per
 *   window. Any other answer clears the strikes.
 * - A 418 bans every group until the time the exchange gave.
 */

export interface GroupLimit {
  readonly limit: number;
  readonly windowMs: number;
  /** No request starts in the last `guardMs` of a window (default 50 ms, at most a tenth of the window). */
  readonly guardMs?: number;
}

/** Upbit KR limits (upbit-api.md §3.1); `order` is 12/s since 2026-08-21 (8/s before). */
export const UPBIT_GROUPS: Readonly<Record<string, GroupLimit>> = Object.freeze({
  market: { limit: 10, windowMs: 1000 },
  candles: { limit: 10, windowMs: 1000 },
  trade: { limit: 10, windowMs: 1000 },
  ticker: { limit: 10, windowMs: 1000 },
  orderbook: { limit: 10, windowMs: 1000 },
  default: { limit: 30, windowMs: 1000 },
  order: { limit: 12, windowMs: 1000 },
  "order-test": { limit: 8, windowMs: 1000 },
  "order-cancel-all": { limit: 1, windowMs: 2000 },
});

/** A group's state as every governor replica shares it. */
export interface GroupState {
  /** Start of the window `used` counts (epoch ms). */
  readonly windowStart: number;
  readonly used: number;
  /** No request before this time (429 back-off). */
  readonly blockedUntil: number;
  /** Consecutive 429s. */
  readonly strikes: number;
}

export const EMPTY_GROUP: GroupState = Object.freeze({
  windowStart: 0,
  used: 0,
  blockedUntil: 0,
  strikes: 0,
});

export type TakeDecision =
  | { readonly kind: "go"; readonly state: GroupState; readonly windowStart: number }
  | { readonly kind: "wait"; readonly untilMs: number; readonly state: GroupState };

export function windowOf(limit: GroupLimit, now: number): number {
  return now - (now % limit.windowMs);
}

/** The share of a window's usable time its slots are spread over (see the module comment). */
const SPREAD = 0.7;

function guardOf(limit: GroupLimit): number {
  return Math.min(limit.guardMs ?? 50, Math.floor(limit.windowMs / 10));
}

/** Rolls the state into the window of `now` (a new window starts empty). */
function current(limit: GroupLimit, state: GroupState, now: number): GroupState {
  const w = windowOf(limit, now);
  return w > state.windowStart ? { ...state, windowStart: w, used: 0 } : state;
}

/** Whether one request may start now, and the state after taking it. */
export function take(limit: GroupLimit, state: GroupState, now: number): TakeDecision {
  if (now < state.blockedUntil) return { kind: "wait", untilMs: state.blockedUntil, state };
  const s = current(limit, state, now);
  const next = s.windowStart + limit.windowMs;
  const budget = s.strikes > 0 ? 1 : limit.limit;
  if (s.used >= budget) return { kind: "wait", untilMs: next, state: s };
  const usable = limit.windowMs - guardOf(limit);
  if (now - s.windowStart >= usable) return { kind: "wait", untilMs: next, state: s };
  const slotAt = s.windowStart + Math.floor((s.used * usable * SPREAD) / limit.limit);
  if (now < slotAt) return { kind: "wait", untilMs: slotAt, state: s };
  return { kind: "go", state: { ...s, used: s.used + 1 }, windowStart: s.windowStart };
}

export interface Observation {
  /** HTTP status of the response (0 when none arrived). */
  readonly status: number;
  /** `sec` of Remaining-Req, when present. */
  readonly remaining?: number;
  /** When the request was started: the window it was counted in. */
  readonly sentAt: number;
}

/** The state after a response of this group. */
export function observe(
  limit: GroupLimit,
  state: GroupState,
  now: number,
  o: Observation,
): GroupState {
  let s = current(limit, state, now);
  if (o.status === 429) {
    const strikes = Math.min(s.strikes + 1, 6);
    const blockedUntil = s.windowStart + limit.windowMs * 2 ** (strikes - 1);
    return {
      ...s,
      used: Math.max(s.used, limit.limit),
      strikes,
      blockedUntil: Math.max(s.blockedUntil, blockedUntil),
    };
  }
  if (o.status !== 0 && o.status !== 418 && s.strikes > 0) s = { ...s, strikes: 0 };
  if (o.remaining !== undefined && windowOf(limit, o.sentAt) === s.windowStart) {
    const counted = Math.max(0, limit.limit - o.remaining);
    if (counted > s.used) s = { ...s, used: counted };
  }
  return s;
}

/** The ban after a 418: the later of the current ban and now + retryAfter. */
export function banUntil(currentBan: number, now: number, retryAfterMs: number): number {
  return Math.max(currentBan, now + Math.max(1000, retryAfterMs));
}
