/**
 * The client's own request path for `signer.v1.sign` (one inbox, a map of
 * pending replies) reports the same typed errors as `request()`: a signer that
 * went away → BUS_NO_RESPONDERS, a closed connection → BUS_UNAVAILABLE.
 * A NATS server of its own: no other suite's `>` spy may answer for the signer.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import {
  connectBus,
  createLogger,
  createSubjects,
  ensureStreams,
  isUplineError,
} from "@upline/shared";
import { type ManagedServer, startNats, uniqueNamespace } from "@upline/testkit";
import { buildSigner, createSignerClient } from "../src/index.ts";
import { callerKeys, keyFile, signerSettings, tempDirs } from "./fixtures.ts";

const logger = createLogger({ service: "signer", level: "silent" });
const subjects = createSubjects(uniqueNamespace());
const dirs = tempDirs();
const exec = callerKeys();
let nats: ManagedServer;

before(async () => {
  nats = await startNats({ dedicated: true });
  dirs.writeKey("main.json", keyFile({ key_id: "main" }));
  dirs.writeCallers([
    {
      id: "order-exec",
      public_jwk: exec.publicJwk,
      keys: ["main"],
      endpoints: ["GET /v1/accounts"],
    },
  ]);
});

after(async () => {
  await nats?.stop();
  dirs.cleanup();
});

test("signer client - a signer that went away is BUS_NO_RESPONDERS; a closed connection BUS_UNAVAILABLE", async () => {
  const nc = await connectBus({ NATS_URL: nats.url }, { name: "signer-client-test", logger });
  await ensureStreams(nc, subjects);
  const signer = buildSigner({
    nc,
    subjects,
    logger,
    settings: signerSettings(dirs),
  });
  await signer.start();
  const client = createSignerClient({
    nc,
    subjects,
    callerId: "order-exec",
    privateJwk: exec.privateJwk,
    timeoutMs: 2_000,
  });
  const args = { keyId: "main", method: "GET", path: "/v1/accounts" } as const;
  const grants = await Promise.all(Array.from({ length: 64 }, () => client.sign(args)));
  assert.equal(new Set(grants.map((g) => g.authorization)).size, 64, "64 distinct grants");
  await signer.stop();
  await assert.rejects(client.sign(args), (e: unknown) => isUplineError(e, "BUS_NO_RESPONDERS"));
  await nc.close();
  await assert.rejects(client.sign(args), (e: unknown) => isUplineError(e, "BUS_UNAVAILABLE"));
});
