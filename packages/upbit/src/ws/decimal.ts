/**
 * Exact decimal strings from the numbers Upbit sends.
 *
 * Upbit's quotation numbers are IEEE doubles (Java `Double`) written as JSON
 * numbers. `JSON.parse` turns each into the same double, and ECMAScript's
 * Number-to-String gives the *shortest* decimal that reads back as that double
 * — the canonical text of the value that was sent, never a float artefact such
 * as `0.30000000000000004` unless the exchange itself sent that. What is left
 * is to write exponent forms (`1e-8`, `1.5e+21`) out in plain digits, which
 * this module does on the string, without arithmetic.
 *
 * Integers beyond 2^53 (`sequential_id`) cannot survive `JSON.parse` at all;
 * the parsers quote them in the raw text before parsing (see parse.ts).
 */

/** A finite number as a plain decimal string: `1e-8` → `"0.00000001"`, `-0` → `"0"`. */
export function decimalString(n: number): string {
  if (!Number.isFinite(n)) throw new RangeError(`not a finite number: ${n}`);
  const s = String(n);
  const e = s.indexOf("e");
  if (e < 0) return s;
  const negative = s.charCodeAt(0) === 45; // "-"
  const mantissa = s.slice(negative ? 1 : 0, e);
  const exponent = Number(s.slice(e + 1));
  const dot = mantissa.indexOf(".");
  const digits = dot < 0 ? mantissa : mantissa.slice(0, dot) + mantissa.slice(dot + 1);
  const point = (dot < 0 ? mantissa.length : dot) + exponent;
  let out: string;
  if (point <= 0) out = `0.${"0".repeat(-point)}${digits}`;
  else if (point >= digits.length) out = digits + "0".repeat(point - digits.length);
  else out = `${digits.slice(0, point)}.${digits.slice(point)}`;
  return negative ? `-${out}` : out;
}
