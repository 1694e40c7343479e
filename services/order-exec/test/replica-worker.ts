/**
 * One order-exec replica on a worker thread of its own (its own event loop,
 * NATS connection and signer client, as the separate process it is in
 * production), for the benchmark. Answers "use-start" / "use-stop" with its
 * event-loop utilisation and CPU time, and "stop" by stopping the replica.
 */
import { workerData } from "node:worker_threads";
import { connectBus, createLogger, createSubjects } from "@upline/shared";
import { createSignerClient } from "@upline/signer";
import { serveThreadControl } from "@upline/testkit";
import { buildOrderExec, type OrderExecSettings } from "../src/index.ts";

const data = workerData as {
  natsUrl: string;
  namespace: string;
  privateJwk: Record<string, unknown>;
  settings: OrderExecSettings;
  name: string;
};
const logger = createLogger({ service: "order-exec", level: "silent" });
const nc = await connectBus({ NATS_URL: data.natsUrl }, { name: data.name, logger });
const subjects = createSubjects(data.namespace);
const signer = createSignerClient({
  nc,
  subjects,
  callerId: "order-exec",
  privateJwk: data.privateJwk,
});
await signer.connect();
const exec = buildOrderExec({
  nc,
  subjects,
  logger,
  sign: (args) => signer.sign(args),
  settings: data.settings,
});
await exec.start();

serveThreadControl(async () => {
  await exec.stop();
  await nc.drain();
});
