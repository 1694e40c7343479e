/**
 * The decimal comparisons risk checks rely on, against a reference that
 * aligns both scales with `10n ** BigInt(k)` (the construction they replaced)
 * and against exact rational arithmetic, on generated and edge inputs
 * (scales beyond the kept powers of ten included).
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { seededRandom } from "@upline/testkit";
import { cmp, type Dec, dec, isMultiple, mul, toText } from "../src/decimal.ts";

const align = (a: Dec, b: Dec): [bigint, bigint] => {
  const s = Math.max(a.scale, b.scale);
  return [a.units * 10n ** BigInt(s - a.scale), b.units * 10n ** BigInt(s - b.scale)];
};
const refCmp = (a: Dec, b: Dec) => {
  const [x, y] = align(a, b);
  return x < y ? -1 : x > y ? 1 : 0;
};
const refMultiple = (a: Dec, b: Dec) => {
  const [x, y] = align(a, b);
  return y !== 0n && x % y === 0n;
};

test("decimal - cmp and isMultiple agree with aligned BigInts on generated and edge values", () => {
  const next = seededRandom(0xdec);
  const digits = (n: number) =>
    Array.from({ length: n }, () => Math.floor(next() * 10)).join("") || "0";
  const gen = () => {
    const int = digits(Math.floor(next() * 12));
    const fracLen = next() < 0.2 ? Math.floor(next() * 60) : Math.floor(next() * 10);
    return fracLen === 0 ? int : `${int}.${digits(fracLen)}`;
  };
  const edges = [
    "0",
    "0.0",
    "1",
    "1.000000000000000000000000000000000000000000000000",
    "0.00000001",
    "90000000",
    "90000000.00000000000000000000000000000000000000001",
    "5000",
    "0.5",
    "1000000000000",
  ];
  const values = [...edges, ...Array.from({ length: 3_000 }, gen)];
  let checked = 0;
  for (let i = 0; i < 40_000; i++) {
    const a = dec(values[Math.floor(next() * values.length)] as string);
    const b = dec(values[Math.floor(next() * values.length)] as string);
    assert.equal(cmp(a, b), refCmp(a, b), `${toText(a)} vs ${toText(b)}`);
    assert.equal(cmp(b, a), refCmp(b, a));
    assert.equal(isMultiple(a, b), refMultiple(a, b), `${toText(a)} / ${toText(b)}`);
    // A product's scale is the sum of both: up to 120 here, past the kept powers.
    const p = mul(a, b);
    assert.equal(cmp(p, a), refCmp(p, a));
    checked++;
  }
  assert.equal(checked, 40_000);
  for (const e of edges)
    for (const f of edges) assert.equal(cmp(dec(e), dec(f)), refCmp(dec(e), dec(f)));
  assert.equal(cmp(dec("1.10"), dec("1.1")), 0);
  assert.equal(isMultiple(dec("90001000"), dec("1000")), true);
  assert.equal(isMultiple(dec("90000500"), dec("1000")), false);
  assert.equal(isMultiple(dec("1"), dec("0.000")), false);
});
