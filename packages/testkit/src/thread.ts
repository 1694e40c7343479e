/**
 * A service on a worker thread of its own, for benchmarks: the worker answers
 * "use-start" / "use-stop" with its event-loop utilisation and CPU time over
 * the phase, and "stop" by stopping what it runs. Both sides are here so the
 * protocol is written once.
 */
import { performance } from "node:perf_hooks";
import { parentPort, Worker } from "node:worker_threads";

/** A thread's share of a phase: event-loop utilisation and its CPU time (user + system, µs). */
export interface ThreadUse {
  readonly elu: number;
  readonly cpuUs: number;
}

/** Worker side: answers the control messages; posts `{ready: true, ...ready}` once. */
export function serveThreadControl(
  stop: () => Promise<void>,
  ready: Readonly<Record<string, unknown>> = {},
): void {
  let elu = performance.eventLoopUtilization();
  let cpu = process.threadCpuUsage();
  parentPort?.on("message", async (msg: string) => {
    if (msg === "use-start") {
      elu = performance.eventLoopUtilization();
      cpu = process.threadCpuUsage();
    } else if (msg === "use-stop") {
      const used = process.threadCpuUsage(cpu);
      const use: ThreadUse = {
        elu: performance.eventLoopUtilization(elu).utilization,
        cpuUs: used.user + used.system,
      };
      parentPort?.postMessage({ use });
    } else if (msg === "stop") {
      await stop();
      parentPort?.postMessage({ stopped: true });
    }
  });
  parentPort?.postMessage({ ...ready, ready: true });
}

export interface ThreadHandle {
  readonly worker: Worker;
  /** The next message carrying `key` (a worker error rejects it). */
  readonly from: (key: string) => Promise<Record<string, unknown>>;
  /** Starts measuring; the returned function ends the phase and gives the thread's use. */
  readonly use: () => () => Promise<ThreadUse>;
  /** Stops what the worker runs, then the worker. */
  readonly stop: () => Promise<void>;
}

/** Parent side: starts the worker (await `from("ready")` before using it). */
export function startThread(url: URL, workerData: unknown): ThreadHandle {
  const worker = new Worker(url, { workerData });
  const from = (key: string) =>
    new Promise<Record<string, unknown>>((resolve, reject) => {
      const on = (m: Record<string, unknown>) => {
        if (key in m) {
          worker.off("message", on);
          worker.off("error", reject);
          resolve(m);
        }
      };
      worker.on("message", on);
      worker.once("error", reject);
    });
  return {
    worker,
    from,
    use: () => {
      worker.postMessage("use-start");
      return async () => {
        worker.postMessage("use-stop");
        return (await from("use")).use as ThreadUse;
      };
    },
    stop: async () => {
      worker.postMessage("stop");
      await from("stopped");
      await worker.terminate();
    },
  };
}
