/**
 * `Remaining-Req: group=<name>; min=<n>; sec=<n>` (upbit-api.md §3.2). `min` is
 * deprecated and ignored; `sec` is what is left in the current second. Group
 * names may contain hyphens (`order-cancel-all`).
 */
export interface RemainingReq {
  readonly group: string;
  readonly sec: number;
}

const GROUP = /(?:^|;)\s*group=([a-z][a-z0-9-]*)\s*(?:;|$)/i;
const SEC = /(?:^|;)\s*sec=(\d+)\s*(?:;|$)/i;

/** Parses the header; `undefined` when it is absent or malformed. */
export function parseRemainingReq(
  value: string | readonly string[] | undefined,
): RemainingReq | undefined {
  if (value === undefined) return undefined;
  const text = typeof value === "string" ? value : value[0];
  if (text === undefined) return undefined;
  const g = GROUP.exec(text);
  const s = SEC.exec(text);
  if (g === null || s === null) return undefined;
  return { group: (g[1] as string).toLowerCase(), sec: Number(s[1]) };
}
