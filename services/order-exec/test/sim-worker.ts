/**
 * The Upbit simulator on a worker thread of its own (benchmarks): the exchange
 * stand-in is not part of order-exec and does not run in its process in any
 * deployment; here it gets its own event loop so that its CPU does not queue
 * behind order-exec's. Its CPU still counts in the process figures.
 */
import { workerData } from "node:worker_threads";
import { serveThreadControl } from "@upline/testkit";
import { type SimOptions, startSim } from "@upline/upbit-sim";

const sim = await startSim(workerData as SimOptions);

serveThreadControl(
  async () => {
    await sim.stop();
  },
  { restUrl: sim.restUrl, privateWsUrl: sim.privateWsUrl },
);
