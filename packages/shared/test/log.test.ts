import assert from "node:assert/strict";
import { Writable } from "node:stream";
import { test } from "node:test";
import { createLogger, scrubSecrets } from "../src/index.ts";

function capture() {
  const chunks: string[] = [];
  const destination = new Writable({
    write(chunk, _enc, done) {
      chunks.push(chunk.toString());
      done();
    },
  });
  return { destination, text: () => chunks.join("") };
}

const SECRET = "sk_9f8e7d6c5b4a39281706f5e4d3c2b1a0";
const JWT = "eyJhbGciOiJIUzUxMiJ9.eyJhY2Nlc3Nfa2V5IjoiYWsifQ.c2lnbmF0dXJlLWJ5dGVz";

test("log - a logged object carrying a secret key, an Authorization header and a bearer token prints none of them", async () => {
  const out = capture();
  const logger = createLogger({ service: "test", destination: out.destination });
  logger.info(
    {
      key: { key_id: "main", secret_key: SECRET },
      request: { headers: { authorization: `Bearer ${JWT}` } },
      headers: { authorization: `Bearer ${JWT}` },
      reply: { authorization: `Bearer ${JWT}`, jws: JWT },
      token: JWT,
    },
    `sent with Bearer ${JWT}`,
  );
  logger
    .child({ component: "x" })
    .error({ err: new Error(`upstream refused Authorization: Bearer ${JWT}`) }, "failed");
  const raw = out.text();
  assert.ok(raw.includes("main"), "non-secret fields stay");
  assert.ok(!raw.includes(SECRET), "secret key printed");
  assert.ok(!raw.includes(JWT), "bearer token / JWS printed");
  assert.ok(!raw.includes("c2lnbmF0dXJlLWJ5dGVz"), "token signature printed");
  assert.match(raw, /\[redacted\]/);
});

test("log - scrubSecrets removes bearer tokens and compact JWS from text", () => {
  assert.equal(scrubSecrets(`Authorization: Bearer ${JWT}`), "Authorization: Bearer [redacted]");
  assert.equal(scrubSecrets(`token ${JWT} end`), "token [redacted-jws] end");
  assert.equal(scrubSecrets("nothing to hide"), "nothing to hide");
});
