import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { resolve } from "node:path";
import { test } from "node:test";

test("start-up - a bad environment stops the process with exit code 1 and names each bad variable", () => {
  const result = spawnSync(
    process.execPath,
    [resolve(import.meta.dirname, "fixtures/bad-config-main.ts")],
    {
      env: {
        PATH: process.env.PATH,
        FIXTURE_PORT: "eighty",
        NATS_URL: "",
        LOG_LEVEL: "chatty",
        FIXTURE_POTR: "1",
        HEALTH_PORT: "70000",
      },
      encoding: "utf8",
    },
  );
  assert.equal(result.status, 1);
  assert.equal(result.stdout, "");
  const err = result.stderr;
  assert.match(err, /^signer: cannot start: CONFIG_INVALID: invalid configuration:/);
  for (const name of [
    "FIXTURE_KEYS_DIR",
    "FIXTURE_PORT",
    "LOG_LEVEL",
    "FIXTURE_POTR",
    "HEALTH_PORT",
  ]) {
    assert.match(err, new RegExp(`- ${name}: `), `names ${name}`);
  }
  assert.doesNotMatch(err, /NATS_URL/, "an empty variable takes its default");
  assert.doesNotMatch(err, /eighty|chatty|70000/, "values are not echoed");
  assert.doesNotMatch(err, /\n\s+at /, "no stack trace");
});
