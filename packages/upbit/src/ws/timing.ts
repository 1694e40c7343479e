/**
 * Time, backoff and Upbit's WebSocket limits as pure pieces, so the socket's
 * decisions can be tested with an injected clock.
 */

/** The clock and timers a socket uses (tests inject fakes). */
export interface Timers {
  readonly now: () => number;
  readonly setTimeout: (fn: () => void, ms: number) => unknown;
  readonly clearTimeout: (handle: unknown) => void;
}

export const systemTimers: Timers = Object.freeze({
  now: Date.now,
  setTimeout: (fn: () => void, ms: number) => {
    const t = setTimeout(fn, ms);
    t.unref();
    return t;
  },
  clearTimeout: (handle: unknown) => clearTimeout(handle as NodeJS.Timeout),
});

export interface BackoffOptions {
  /** First retry's ceiling (default 250 ms). */
  readonly initialMs?: number;
  /** Largest ceiling (default 30 s). */
  readonly maxMs?: number;
}

/**
 * Exponential backoff with full jitter: a uniform delay in
 * [0, min(maxMs, initialMs · 2^attempt)). `attempt` counts from 0.
 */
export function backoffDelay(
  attempt: number,
  options: BackoffOptions = {},
  random: () => number = Math.random,
): number {
  const initial = options.initialMs ?? 250;
  const max = options.maxMs ?? 30_000;
  const ceiling = Math.min(max, initial * 2 ** Math.min(attempt, 30));
  return Math.floor(random() * ceiling);
}

/**
 * A sliding-window budget: at most `limit` events in any `windowMs`.
 * `reserve()` books the earliest allowed slot and says how long to wait for it.
 * Upbit allows 5 connection attempts per second per IP (`websocket-connect`),
 * and 5 messages per second plus 100 per minute per connection.
 */
export interface RateWindow {
  /** Books one event; returns the milliseconds to wait before it may happen. */
  readonly reserve: () => number;
}

export function createRateWindow(
  limit: number,
  windowMs: number,
  now: () => number = Date.now,
): RateWindow {
  if (!(limit >= 1)) throw new RangeError("limit must be at least 1");
  const slots: number[] = [];
  return {
    reserve: () => {
      const t = now();
      while (slots.length > 0 && (slots[0] as number) <= t - windowMs) slots.shift();
      const at =
        slots.length >= limit
          ? Math.max(t, (slots[slots.length - limit] as number) + windowMs)
          : Math.max(t, slots.length > 0 ? (slots[slots.length - 1] as number) : t);
      slots.push(at);
      return at - t;
    },
  };
}

/** Several windows at once (Upbit's messages: 5/s and 100/min): wait for the longest. */
export function combineWindows(...windows: readonly RateWindow[]): RateWindow {
  return {
    reserve: () => {
      let wait = 0;
      for (const w of windows) wait = Math.max(wait, w.reserve());
      return wait;
    },
  };
}

/**
 * The connection-attempt budget shared by every public socket of a process
 * (Upbit counts `websocket-connect` per IP). 4/s leaves headroom under the 5/s
 * limit for another process on the same address.
 */
export function createConnectLimiter(
  options: { readonly perSecond?: number; readonly now?: () => number } = {},
): RateWindow {
  return createRateWindow(options.perSecond ?? 4, 1000, options.now ?? Date.now);
}
