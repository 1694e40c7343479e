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

function align(a: Dec, b: Dec): [bigint, bigint] {
  const s = Math.max(a.scale, b.scale);
  return [a.units * 10n ** BigInt(s - a.scale), b.units * 10n ** BigInt(s - b.scale)];
}

export function mul(a: Dec, b: Dec): Dec {
  return { units: a.units * b.units, scale: a.scale + b.scale };
}

/** -1, 0 or 1. */
export function cmp(a: Dec, b: Dec): number {
  const [x, y] = align(a, b);
  return x < y ? -1 : x > y ? 1 : 0;
}

/** Whether `value` is a whole multiple of `step` (step > 0). */
export function isMultiple(value: Dec, step: Dec): boolean {
  const [x, y] = align(value, step);
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
