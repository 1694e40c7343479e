/**
 * The signer on a worker thread of its own (its own event loop and NATS
 * connection, as the separate process it is in production), for the
 * benchmark. Answers "use-start" / "use-stop" with its event-loop utilisation
 * and CPU time, and "stop" by stopping the signer.
 */
import { workerData } from "node:worker_threads";
import { connectBus, createLogger, createSubjects } from "@upline/shared";
import { buildSigner } from "@upline/signer";
import { serveThreadControl } from "@upline/testkit";

const data = workerData as {
  natsUrl: string;
  namespace: string;
  keysDir: string;
  callersFile: string;
};
const logger = createLogger({ service: "signer", level: "silent" });
const nc = await connectBus({ NATS_URL: data.natsUrl }, { name: "signer-worker", logger });
const signer = buildSigner({
  nc,
  subjects: createSubjects(data.namespace),
  logger,
  settings: {
    keysDir: data.keysDir,
    callersFile: data.callersFile,
    jwtAlg: "HS512",
    rotationGraceMs: 60_000,
    expiryWarnDays: 30,
    sessionTtlMs: 600_000,
    auditMaxInFlight: 4096,
    watchFiles: false,
  },
});
await signer.start();
await nc.flush();

serveThreadControl(async () => {
  await signer.stop();
  await nc.drain();
});
