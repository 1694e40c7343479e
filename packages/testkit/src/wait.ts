import { setTimeout as delay } from "node:timers/promises";

export interface EventuallyOptions {
  readonly timeoutMs?: number;
  /** Pause between attempts (default 10 ms): a poll interval, not a wait for the outcome. */
  readonly intervalMs?: number;
  readonly message?: string;
}

/**
 * Retries `fn` until it returns without throwing (and its result is not
 * `false`), or fails with the last error once `timeoutMs` has passed.
 */
export async function eventually<T>(
  fn: () => T | Promise<T>,
  options: EventuallyOptions = {},
): Promise<Exclude<T, false>> {
  const deadline = Date.now() + (options.timeoutMs ?? 10_000);
  let last: unknown;
  for (;;) {
    try {
      const value = await fn();
      if (value !== false) return value as Exclude<T, false>;
      last = new Error("condition returned false");
    } catch (err) {
      last = err;
    }
    if (Date.now() >= deadline) {
      const reason = last instanceof Error ? last.message : String(last);
      throw new Error(
        `${options.message ?? "condition not met"} within ${options.timeoutMs ?? 10_000} ms: ${reason}`,
        {
          cause: last,
        },
      );
    }
    await delay(options.intervalMs ?? 10);
  }
}

/** Opens once `count` arrivals have been counted; `wait()` rejects after a timeout. */
export class Latch {
  #remaining: number;
  #resolve!: () => void;
  readonly #done: Promise<void>;

  constructor(count = 1) {
    this.#remaining = count;
    this.#done = new Promise<void>((resolve) => {
      this.#resolve = resolve;
    });
    if (count <= 0) this.#resolve();
  }

  get remaining(): number {
    return this.#remaining;
  }

  countDown(): void {
    if (this.#remaining <= 0) return;
    this.#remaining -= 1;
    if (this.#remaining === 0) this.#resolve();
  }

  async wait(timeoutMs = 10_000): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`latch still waiting for ${this.#remaining} after ${timeoutMs} ms`)),
        timeoutMs,
      );
    });
    try {
      await Promise.race([this.#done, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }
}
