import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { test } from "node:test";
import { ErrorCodes, isUplineError, UplineError } from "../src/index.ts";

test("errors - every code has a retry class and travels over the wire intact", () => {
  for (const code of Object.keys(ErrorCodes) as (keyof typeof ErrorCodes)[]) {
    const err = new UplineError(code, `about ${code}`, { cause: new Error("inner") });
    const back = UplineError.fromWire(JSON.parse(JSON.stringify(err.toWire())));
    assert.equal(back.code, code);
    assert.equal(back.retry, ErrorCodes[code].retry);
    assert.equal(back.message, `about ${code}`);
    assert.ok(isUplineError(back, code));
  }
});

test("errors - an unknown remote code becomes INTERNAL and keeps the remote code in the message", () => {
  const err = UplineError.fromWire({ code: "NOT_A_CODE", message: "boom" });
  assert.equal(err.code, "INTERNAL");
  assert.match(err.message, /NOT_A_CODE: boom/);
});

test("errors - docs/errors.md lists exactly the codes of the registry, with their retry class", () => {
  const doc = readFileSync(resolve(import.meta.dirname, "../../../docs/errors.md"), "utf8");
  const rows = [...doc.matchAll(/^\|\s*`([A-Z][A-Z0-9_]+)`\s*\|\s*([a-z_]+)\s*\|/gm)].map((m) => [
    m[1],
    m[2],
  ]);
  const documented = new Map(rows as [string, string][]);
  for (const [code, spec] of Object.entries(ErrorCodes)) {
    assert.equal(documented.get(code), spec.retry, `docs/errors.md row for ${code}`);
  }
  for (const code of documented.keys())
    assert.ok(code in ErrorCodes, `docs/errors.md lists unknown code ${code}`);
});
