import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { NatsConnection } from "@nats-io/transport-node";
import { connectBus, createLogger, createSubjects, ensureStreams } from "@upline/shared";
import { startNats, uniqueNamespace } from "@upline/testkit";
import { type Sim, startSim } from "@upline/upbit-sim";
import { buildSigner, createSignerClient, type Signer, type SignerClient } from "../src/index.ts";
import { callerKeys, keyFile, signerSettings, tempDirs } from "./fixtures.ts";

const logger = createLogger({ service: "signer", level: "silent" });

describe("signer tokens against the Upbit simulator", () => {
  const subjects = createSubjects(uniqueNamespace());
  const dirs = tempDirs();
  const exec = callerKeys();
  const key = keyFile({ key_id: "main" });
  let nc: NatsConnection;
  let signer: Signer;
  let client: SignerClient;
  let sim: Sim;

  before(async () => {
    sim = await startSim({
      port: 0,
      seed: 7,
      markets: ["KRW-BTC"],
      accounts: [
        {
          accessKey: key.access_key,
          secretKey: key.secret_key,
          balances: { KRW: "1000000" },
          scopes: ["view_accounts", "make_orders", "view_orders"],
        },
      ],
    });
    const nats = await startNats();
    nc = await connectBus({ NATS_URL: nats.url }, { name: "signer-sim-test", logger });
    await ensureStreams(nc, subjects);
    dirs.writeKey("main.json", key);
    dirs.writeCallers([
      {
        id: "order-exec",
        public_jwk: exec.publicJwk,
        keys: ["main"],
        endpoints: [
          "GET /v1/accounts",
          "GET /v1/orders/closed",
          "POST /v1/orders",
          "DELETE /v1/order",
        ],
      },
    ]);
    signer = buildSigner({
      nc,
      subjects,
      logger,
      settings: signerSettings(dirs),
    });
    await signer.start();
    client = createSignerClient({
      nc,
      subjects,
      callerId: "order-exec",
      privateJwk: exec.privateJwk,
    });
  });

  after(async () => {
    await signer?.stop();
    await nc?.drain();
    await sim?.stop();
    dirs.cleanup();
  });

  const call = async (
    method: "GET" | "POST" | "DELETE",
    path: string,
    args: { params?: [string, string][]; body?: Record<string, string> } = {},
  ) => {
    const grant = await client.sign({ keyId: "main", method, path, ...args });
    const url = `${sim.restUrl}${path}${grant.url_query ? `?${grant.url_query}` : ""}`;
    const res = await fetch(url, {
      method,
      headers: {
        authorization: grant.authorization,
        ...(grant.body === undefined ? {} : { "content-type": "application/json; charset=utf-8" }),
      },
      ...(grant.body === undefined ? {} : { body: grant.body }),
    });
    return { status: res.status, json: (await res.json()) as unknown };
  };

  test("signer - the simulator accepts a token without params", async () => {
    const r = await call("GET", "/v1/accounts");
    assert.equal(r.status, 200, JSON.stringify(r.json));
  });

  test("signer - the simulator accepts a POST body token and a cancel with query params", async () => {
    const placed = await call("POST", "/v1/orders", {
      body: { market: "KRW-BTC", side: "bid", ord_type: "limit", price: "10000", volume: "1" },
    });
    assert.equal(placed.status, 201, JSON.stringify(placed.json));
    const uuid = (placed.json as { uuid: string }).uuid;
    const cancelled = await call("DELETE", "/v1/order", { params: [["uuid", uuid]] });
    assert.equal(cancelled.status, 200, JSON.stringify(cancelled.json));
  });

  test("signer - the simulator accepts states[] arrays and ISO timestamps with + and :", async () => {
    const r = await call("GET", "/v1/orders/closed", {
      params: [
        ["market", "KRW-BTC"],
        ["states[]", "done"],
        ["states[]", "cancel"],
        ["start_time", new Date(Date.now() - 3600_000).toISOString().replace("Z", "+00:00")],
        ["limit", "10"],
      ],
    });
    assert.equal(r.status, 200, JSON.stringify(r.json));
  });
});
