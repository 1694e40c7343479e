import assert from "node:assert/strict";
import { test } from "node:test";
import { z } from "zod";
import {
  env,
  isUplineError,
  loadConfig,
  natsEnvSchema,
  observabilityEnvSchema,
} from "../src/index.ts";

const schema = z.object({
  ...natsEnvSchema,
  ...observabilityEnvSchema,
  SIGNER_KEYS_DIR: z.string().describe("directory of key files"),
  SIGNER_MAX_SKEW_S: env.int("allowed clock skew in seconds", 0, 60).default(2),
  SIGNER_DEV_KEYS: env.bool("allow keys from the environment").default(false),
});

test("config - parses, applies defaults and freezes the result", () => {
  const cfg = loadConfig(schema, {
    SIGNER_KEYS_DIR: "/keys",
    SIGNER_DEV_KEYS: "yes",
    PATH: "/bin",
  });
  assert.equal(cfg.NATS_URL, "nats://127.0.0.1:4222");
  assert.equal(cfg.SIGNER_MAX_SKEW_S, 2);
  assert.equal(cfg.SIGNER_DEV_KEYS, true);
  assert.ok(Object.isFrozen(cfg));
  assert.throws(() => {
    (cfg as { SIGNER_KEYS_DIR: string }).SIGNER_KEYS_DIR = "/elsewhere";
  }, TypeError);
});

test("config - a bad environment names every bad variable with a hint, without echoing values", () => {
  let thrown: unknown;
  try {
    loadConfig(
      schema,
      {
        SIGNER_MAX_SKEW_S: "soon",
        LOG_LEVEL: "loud",
        OTEL_EXPORTER_OTLP_ENDPOINT: "ftp://x",
        SIGNER_KEYZ_DIR: "/k",
        NATS_PASSWORD: "hunter2",
      },
      { strictPrefixes: ["SIGNER_"] },
    );
  } catch (err) {
    thrown = err;
  }
  assert.ok(isUplineError(thrown, "CONFIG_INVALID"), "a CONFIG_INVALID error");
  const text = thrown.message;
  assert.match(text, /SIGNER_KEYS_DIR: required \(directory of key files\)/);
  assert.match(text, /SIGNER_MAX_SKEW_S: .*\(allowed clock skew in seconds\)/);
  assert.match(text, /LOG_LEVEL: /);
  assert.match(text, /OTEL_EXPORTER_OTLP_ENDPOINT: must be a http or https URL/);
  assert.match(text, /SIGNER_KEYZ_DIR: unknown variable/);
  assert.doesNotMatch(text, /soon|loud|hunter2|ftp:\/\/x/);
  assert.deepEqual([...((thrown.details?.variables ?? []) as string[])].sort(), [
    "LOG_LEVEL",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "SIGNER_KEYS_DIR",
    "SIGNER_KEYZ_DIR",
    "SIGNER_MAX_SKEW_S",
  ]);
});

test("config - empty strings count as unset", () => {
  assert.throws(() => loadConfig(schema, { SIGNER_KEYS_DIR: "" }), /SIGNER_KEYS_DIR: required/);
});
