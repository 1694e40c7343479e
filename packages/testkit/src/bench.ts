/**
 * Small helpers for `pnpm bench`: latency percentiles, memory, a container's CPU, and one result
 * format. A benchmark script prints its rows with {@link emitBench}; the runner
 * (scripts/bench.ts) collects them into one table and bench/results/*.json.
 */
import { readdirSync, readFileSync } from "node:fs";
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

/** CPU (user + system) used so far by the processes whose cgroup names `containerId`, in µs. */
function containerCpuUs(containerId: string): number | undefined {
  let ticks = 0;
  let found = false;
  for (const pid of readdirSync("/proc")) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      if (!readFileSync(`/proc/${pid}/cgroup`, "utf8").includes(containerId)) continue;
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      ticks += Number(f[11]) + Number(f[12]); // utime, stime (fields 14 and 15)
      found = true;
    } catch {
      // the process ended meanwhile
    }
  }
  return found ? ticks * 10_000 : undefined; // USER_HZ = 100
}

/**
 * CPU used by a container's processes (nats-server, PostgreSQL) from now on:
 * the returned function gives µs per unit of work (`per`), to 0.1 µs. Read from
 * /proc, matching the container id in each process's cgroup (podman runs them
 * as host processes). Undefined when it cannot be read (no container id, or a
 * runtime whose processes this host does not see).
 */
export function containerCpuMeter(
  containerId: string | undefined,
): (per: number) => number | undefined {
  const start = containerId === undefined ? undefined : containerCpuUs(containerId);
  return (per) => {
    if (containerId === undefined || start === undefined) return undefined;
    const now = containerCpuUs(containerId);
    return now === undefined ? undefined : Math.round(((now - start) / Math.max(1, per)) * 10) / 10;
  };
}
