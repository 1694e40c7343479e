/**
 * Exact decimal arithmetic on the decimal strings of the bus (never floats):
 * a value is a BigInt scaled by 10^scale.
 */
export interface Dec {
  readonly units: bigint;
  readonly scale: number;
}

const DECIMAL = /^(\d+)(?:\.(\d+))?$/;

export function dec(text: string): Dec {
  const m = DECIMAL.exec(text);
  if (m === null) throw new RangeError(`not a decimal string: ${JSON.stringify(text)}`);
  const frac = m[2] ?? "";
  return { units: BigInt(`${m[1]}${frac}`), scale: frac.length };
}

/** 10^0 … 10^40: the scales that occur (KRW prices, 8-decimal volumes, their products). */
const POW10: readonly bigint[] = Array.from({ length: 41 }, (_, k) => 10n ** BigInt(k));

/** `a`'s units at scale `s` (≥ a.scale): no new BigInt when the scale is already `s`. */
function at(a: Dec, s: number): bigint {
  if (a.scale === s) return a.units;
  const k = s - a.scale;
  return a.units * (POW10[k] ?? 10n ** BigInt(k));
}

export function mul(a: Dec, b: Dec): Dec {
  return { units: a.units * b.units, scale: a.scale + b.scale };
}

/** -1, 0 or 1. */
export function cmp(a: Dec, b: Dec): number {
  const s = Math.max(a.scale, b.scale);
  const x = at(a, s);
  const y = at(b, s);
  return x < y ? -1 : x > y ? 1 : 0;
}

/** Whether `value` is a whole multiple of `step` (step > 0). */
export function isMultiple(value: Dec, step: Dec): boolean {
  const s = Math.max(value.scale, step.scale);
  const x = at(value, s);
  const y = at(step, s);
  return y !== 0n && x % y === 0n;
}

export function isZero(a: Dec): boolean {
  return a.units === 0n;
}

export function toText(a: Dec): string {
  if (a.scale === 0) return a.units.toString();
  const s = a.units.toString().padStart(a.scale + 1, "0");
  const int = s.slice(0, s.length - a.scale);
  const frac = s.slice(s.length - a.scale).replace(/0+$/, "");
  return frac === "" ? int : `${int}.${frac}`;
}
