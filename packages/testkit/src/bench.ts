/**
 * Small helpers for `pnpm bench`: latency percentiles, memory, and one result
 * format. A benchmark script prints its rows with {@link emitBench}; the runner
 * (scripts/bench.ts) collects them into one table and bench/results/*.json.
 */
import { performance } from "node:perf_hooks";

export interface BenchRow {
  /** What was measured, e.g. "signer sign, 32 concurrent". */
  readonly name: string;
  /** Which suite it belongs to (signer, feed, audit, ...). */
  readonly suite: string;
  /** "baseline" rows are the bare figures printed beside ours; "peer" rows a third party's. */
  readonly kind?: "ours" | "baseline" | "peer";
  readonly ops_per_s?: number;
  readonly p50_us?: number;
  readonly p99_us?: number;
  readonly rss_mb?: number;
  readonly cpu_pct?: number;
  readonly notes?: string;
}

export const BENCH_MARKER = "UPLINE_BENCH_ROW ";

/** Prints rows for the runner (one JSON line each) and a readable table. */
export function emitBench(rows: readonly BenchRow[]): void {
  for (const row of rows) process.stdout.write(`${BENCH_MARKER}${JSON.stringify(row)}\n`);
}

export function percentile(sortedUs: readonly number[], p: number): number {
  if (sortedUs.length === 0) return Number.NaN;
  const idx = Math.min(
    sortedUs.length - 1,
    Math.max(0, Math.ceil((p / 100) * sortedUs.length) - 1),
  );
  return sortedUs[idx] as number;
}

export interface LatencyResult {
  readonly ops_per_s: number;
  readonly p50_us: number;
  readonly p99_us: number;
}

/**
 * Runs `op` `total` times with `concurrency` in flight, after `warmup` calls,
 * timing each call.
 */
export async function measureLatency(
  op: () => Promise<unknown>,
  options: { total: number; concurrency: number; warmup?: number },
): Promise<LatencyResult> {
  for (let i = 0; i < (options.warmup ?? Math.min(1000, options.total / 10)); i++) await op();
  const samples = new Float64Array(options.total);
  let next = 0;
  const started = performance.now();
  const worker = async () => {
    while (next < options.total) {
      const i = next++;
      const t0 = performance.now();
      await op();
      samples[i] = (performance.now() - t0) * 1000;
    }
  };
  await Promise.all(Array.from({ length: options.concurrency }, worker));
  const elapsed = (performance.now() - started) / 1000;
  const sorted = Array.from(samples).sort((a, b) => a - b);
  return {
    ops_per_s: Math.round(options.total / elapsed),
    p50_us: Math.round(percentile(sorted, 50)),
    p99_us: Math.round(percentile(sorted, 99)),
  };
}

export function rssMb(): number {
  return Math.round(process.memoryUsage().rss / 1024 / 1024);
}

/** CPU used by this process over a period, as a percentage of one core. */
export function cpuMeter(): () => number {
  const start = process.cpuUsage();
  const t0 = performance.now();
  return () => {
    const used = process.cpuUsage(start);
    const wallUs = (performance.now() - t0) * 1000;
    return Math.round(((used.user + used.system) / wallUs) * 100);
  };
}
