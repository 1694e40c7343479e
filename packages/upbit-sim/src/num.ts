/**
 * Number helpers. The simulator keeps amounts as JavaScript numbers rounded to
 * 10 decimals after every operation and prints them as plain decimal strings
 * (never exponent notation) on the wire.
 */

/** Rounds to 8 decimals (Upbit's amount precision), which also removes float noise such as 0.30000000000000004. */
export function round(x: number): number {
  if (Number.isInteger(x)) return x;
  // Exact enough below 9e7 (x * 1e8 stays under 2^53); toFixed above.
  return x < 9e7 && x > -9e7 ? Math.round(x * 1e8) / 1e8 : Number(x.toFixed(8));
}

/** Rounds down to 8 decimals (volume precision). */
export function floor8(x: number): number {
  return Math.floor(round(x * 1e8)) / 1e8;
}

/** A plain decimal string: no exponent, no trailing zeros. */
export function dec(x: number): string {
  if (Number.isInteger(x)) return String(x);
  const s = x.toFixed(8);
  return s.replace(/0+$/, "").replace(/\.$/, "");
}

/** Parses a decimal string or number strictly; returns NaN when it is not a plain positive decimal. */
export function parseDec(v: unknown): number {
  if (typeof v === "number") return Number.isFinite(v) ? v : Number.NaN;
  if (typeof v !== "string" || !/^\d+(\.\d+)?$/.test(v)) return Number.NaN;
  return Number(v);
}

const KRW_TICKS: readonly (readonly [number, number])[] = [
  [1_000_000, 1000],
  [500_000, 500],
  [100_000, 100],
  [50_000, 50],
  [10_000, 10],
  [5_000, 5],
  [100, 1],
  [10, 0.1],
  [1, 0.01],
  [0.1, 0.001],
  [0.01, 0.0001],
  [0.001, 0.00001],
  [0.0001, 0.000001],
  [0.00001, 0.0000001],
];

const USDT_TICKS: readonly (readonly [number, number])[] = [
  [10, 0.01],
  [1, 0.001],
  [0.1, 0.0001],
  [0.01, 0.00001],
  [0.001, 0.000001],
  [0.0001, 0.0000001],
];

/** Tick size for a price in a quote currency (KRW table of 2025-07-31, BTC single tick, USDT table). */
export function tickSize(quote: string, price: number): number {
  if (quote === "BTC") return 0.00000001;
  const table = quote === "KRW" ? KRW_TICKS : quote === "USDT" ? USDT_TICKS : null;
  if (table === null) return 0.00000001;
  for (const [floor, tick] of table) if (price >= floor) return tick;
  return 0.00000001;
}

export function isOnTick(quote: string, price: number): boolean {
  const tick = tickSize(quote, price);
  const q = price / tick;
  return Math.abs(q - Math.round(q)) < 1e-7;
}

/** The next price one tick above `price` (which must be on tick). */
export function tickUp(quote: string, price: number): number {
  return round(price + tickSize(quote, price));
}

/** The next price one tick below `price`, using the tick of the band just below. */
export function tickDown(quote: string, price: number): number {
  const below = tickSize(quote, price * (1 - 1e-12));
  return round(price - below);
}

/** Rounds a price down onto the tick grid. */
export function toTick(quote: string, price: number): number {
  const tick = tickSize(quote, price);
  return round(Math.floor(round(price / tick)) * tick);
}
