import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { loadConfig, SimStartupError } from "../src/config.ts";
import { newKeys } from "./helpers.ts";

test("config - flags override the environment and an accounts file is validated", () => {
  const dir = mkdtempSync(join(tmpdir(), "upbit-sim-"));
  const file = join(dir, "accounts.json");
  const k = newKeys();
  writeFileSync(
    file,
    JSON.stringify([{ ...k, balances: { KRW: "1000" }, scopes: ["view_accounts"] }]),
  );
  const c = loadConfig(["--", "--port", "0", "--accounts", file, "--no-limits"], {
    UPBIT_SIM_PORT: "5000",
    UPBIT_SIM_MARKETS: "KRW-BTC, KRW-ETH",
  });
  assert.equal(c.port, 0);
  assert.deepEqual(c.markets, ["KRW-BTC", "KRW-ETH"]);
  assert.equal(c.rateLimits, false);
  assert.equal(c.accounts?.[0]?.accessKey, k.accessKey);
  assert.ok(Object.isFrozen(c));
});

test("config - a bad value stops start-up with an error naming the variable", () => {
  assert.throws(
    () => loadConfig([], { UPBIT_SIM_PORT: "99999" }),
    (e: unknown) => e instanceof SimStartupError && /UPBIT_SIM_PORT/.test(e.message),
  );
  const dir = mkdtempSync(join(tmpdir(), "upbit-sim-"));
  const file = join(dir, "bad.json");
  writeFileSync(
    file,
    JSON.stringify([{ accessKey: "a", secretKey: "b", scopes: ["trade_everything"] }]),
  );
  assert.throws(() => loadConfig(["--accounts", file], {}), /UPBIT_SIM_ACCOUNTS_FILE: 0\.scopes/);
});
