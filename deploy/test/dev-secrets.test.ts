/**
 * Generated NATS passwords must read as strings where nats.conf says
 * `password: $VARIABLE`: nats-server parses the variable's value, and a value
 * starting with `-` or a digit can read as a number or a date and stop it.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { natsPassword } from "../scripts/dev-secrets.ts";

test("dev-secrets - NATS passwords start with a letter and are long random base64url", () => {
  const seen = new Set<string>();
  for (let i = 0; i < 10_000; i++) {
    const p = natsPassword();
    assert.match(p, /^[A-Za-z][A-Za-z0-9_-]{32}$/);
    seen.add(p);
  }
  assert.equal(seen.size, 10_000);
});
