/** The signer (and a bare echo responder) on a thread of its own, for signer.bench.ts. */
import { workerData } from "node:worker_threads";
import { connectBus, createLogger, createSubjects, ensureStreams } from "@upline/shared";
import { serveThreadControl } from "@upline/testkit";
import { buildSigner } from "../src/index.ts";
import { signerSettings } from "../test/fixtures.ts";

const data = workerData as {
  natsUrl: string;
  namespace: string;
  keysDir: string;
  callersFile: string;
};
const logger = createLogger({ service: "signer", level: "silent" });
const nc = await connectBus({ NATS_URL: data.natsUrl }, { name: "signer-bench", logger });
const subjects = createSubjects(data.namespace);
await ensureStreams(nc, subjects);
const signer = buildSigner({
  nc,
  subjects,
  logger,
  settings: signerSettings(data, { sessionTtlMs: 3_600_000, auditMaxInFlight: 4096 }),
});
await signer.start();
nc.subscribe(`${data.namespace}.bench.echo`, {
  callback: (_e, m) => {
    m.respond(m.data);
  },
});
await nc.flush();

serveThreadControl(async () => {
  await signer.stop();
  await nc.drain();
});
