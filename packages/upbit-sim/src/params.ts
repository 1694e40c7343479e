/** Query-string parameters in request order, decoded per component ('+' stays '+', as Upbit hashes it). */
export class Params {
  readonly pairs: readonly (readonly [string, string])[];

  constructor(pairs: readonly (readonly [string, string])[]) {
    this.pairs = pairs;
  }

  /** Throws URIError on malformed percent-encoding. */
  static parse(raw: string): Params {
    if (raw === "") return new Params([]);
    const pairs: [string, string][] = [];
    for (const part of raw.split("&")) {
      if (part === "") continue;
      const eq = part.indexOf("=");
      const k = eq < 0 ? part : part.slice(0, eq);
      const v = eq < 0 ? "" : part.slice(eq + 1);
      pairs.push([decodeURIComponent(k), decodeURIComponent(v)]);
    }
    return new Params(pairs);
  }

  static fromBody(body: Record<string, unknown>): Params {
    const pairs: [string, string][] = [];
    for (const [k, v] of Object.entries(body)) {
      if (v === null || v === undefined) continue;
      if (Array.isArray(v)) for (const x of v) pairs.push([k, String(x)]);
      else pairs.push([k, String(v)]);
    }
    return new Params(pairs);
  }

  get(key: string): string | undefined {
    for (const [k, v] of this.pairs) if (k === key) return v;
    return undefined;
  }

  all(key: string): string[] {
    const out: string[] = [];
    for (const [k, v] of this.pairs) if (k === key) out.push(v);
    return out;
  }

  has(key: string): boolean {
    return this.get(key) !== undefined;
  }

  /** A comma list (`markets=KRW-BTC,KRW-ETH`). */
  list(key: string): string[] {
    const v = this.get(key);
    return v === undefined || v === "" ? [] : v.split(",").map((s) => s.trim());
  }

  int(key: string, fallback: number): number {
    const v = this.get(key);
    if (v === undefined || v === "") return fallback;
    return /^-?\d+$/.test(v) ? Number(v) : Number.NaN;
  }
}
