/** Exact decimal arithmetic on decimal strings (money is never a float). Pure. */

const DECIMAL = /^(0|[1-9][0-9]{0,29})(\.[0-9]{1,20})?$/;

export interface Dec {
  readonly units: bigint;
  readonly scale: number;
}

export function isDecimal(text: string): boolean {
  return DECIMAL.test(text);
}

export function parseDecimal(text: string): Dec | undefined {
  if (!DECIMAL.test(text)) return undefined;
  const [int, frac = ""] = text.split(".") as [string, string?];
  return { units: BigInt(int + frac), scale: frac.length };
}

export function mul(a: Dec, b: Dec): Dec {
  return { units: a.units * b.units, scale: a.scale + b.scale };
}

/** -1, 0 or 1. */
export function cmp(a: Dec, b: Dec): number {
  const scale = Math.max(a.scale, b.scale);
  const x = a.units * 10n ** BigInt(scale - a.scale);
  const y = b.units * 10n ** BigInt(scale - b.scale);
  return x < y ? -1 : x > y ? 1 : 0;
}
