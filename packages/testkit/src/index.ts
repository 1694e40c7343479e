export type { BenchRow, LatencyResult } from "./bench.ts";
export {
  BENCH_MARKER,
  containerCpuMeter,
  cpuMeter,
  emitBench,
  measureLatency,
  percentile,
  rssMb,
} from "./bench.ts";
export type { TestkitConfig } from "./config.ts";
export { testkitConfig, testkitEnvSchema } from "./config.ts";
export type {
  ManagedServer,
  PostgresServer,
  StartNatsOptions,
  StartOptions,
} from "./containers.ts";
export { startNats, startPostgres, uniqueNamespace } from "./containers.ts";
export { seededRandom } from "./random.ts";
export type { ThreadHandle, ThreadUse } from "./thread.ts";
export { serveThreadControl, startThread } from "./thread.ts";
export type { EventuallyOptions } from "./wait.ts";
export { eventually, Latch } from "./wait.ts";
