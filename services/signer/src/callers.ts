/**
 * Callers: who may ask the signer for what. One JSON file (SIGNER_CALLERS_FILE)
 * with each caller's Ed25519 public JWK and its policy.
 */
import { createPublicKey, type KeyObject } from "node:crypto";
import { readFile, stat } from "node:fs/promises";
import { z } from "zod";
import { isDecimal } from "./decimal.ts";
import { fileInvalid } from "./errors.ts";

const Endpoint = z
  .string()
  .regex(/^(GET|POST|DELETE|WS) \/[a-z0-9_/]+$/, 'must look like "POST /v1/orders"');
const DecimalText = z.string().refine(isDecimal, "must be a decimal string");

export const CallerEntry = z.strictObject({
  id: z.string().regex(/^[a-z0-9][a-z0-9_.-]{0,63}$/),
  public_jwk: z.looseObject({
    kty: z.literal("OKP"),
    crv: z.literal("Ed25519"),
    x: z.string().length(43),
  }),
  admin: z.boolean().default(false),
  /** Exchange key ids this caller may use. */
  keys: z.array(z.string()).max(64).default([]),
  /** Allowed endpoints, exact: "GET /v1/orders/chance". */
  endpoints: z.array(Endpoint).max(128).default([]),
  /** Market allow-list; absent means any market. */
  markets: z
    .array(z.string().regex(/^[A-Z0-9]{2,10}-[A-Z0-9]{1,20}$/))
    .max(1024)
    .optional(),
  /** Largest order total (quote currency) per request. */
  max_order_total: DecimalText.optional(),
  /** Largest volume per request for orders whose total is not known (market sells). */
  max_order_volume: DecimalText.optional(),
});
export type CallerEntry = z.input<typeof CallerEntry>;

export const CallersFile = z.strictObject({ callers: z.array(CallerEntry).max(256) });
export type CallersFile = z.input<typeof CallersFile>;

export interface CallerPolicy {
  readonly id: string;
  readonly publicKey: KeyObject;
  readonly admin: boolean;
  readonly keys: ReadonlySet<string>;
  readonly endpoints: ReadonlySet<string>;
  readonly markets: ReadonlySet<string> | undefined;
  readonly maxOrderTotal: string | undefined;
  readonly maxOrderVolume: string | undefined;
}

export function parseCallers(raw: unknown, source: string): Map<string, CallerPolicy> {
  const parsed = CallersFile.safeParse(raw);
  if (!parsed.success) {
    const fields = parsed.error.issues.map((i) => `${i.path.join(".") || "(file)"}: ${i.message}`);
    throw fileInvalid(source, `not a callers file (${fields.slice(0, 5).join("; ")})`);
  }
  const out = new Map<string, CallerPolicy>();
  for (const c of parsed.data.callers) {
    if (out.has(c.id)) throw fileInvalid(source, `caller ${c.id} is listed twice`);
    let publicKey: KeyObject;
    try {
      publicKey = createPublicKey({
        key: { kty: "OKP", crv: "Ed25519", x: c.public_jwk.x },
        format: "jwk",
      });
    } catch (err) {
      throw fileInvalid(source, `caller ${c.id}: public_jwk is not an Ed25519 public key`, err);
    }
    out.set(
      c.id,
      Object.freeze({
        id: c.id,
        publicKey,
        admin: c.admin,
        keys: new Set(c.keys),
        endpoints: new Set(c.endpoints),
        markets: c.markets === undefined ? undefined : new Set(c.markets),
        maxOrderTotal: c.max_order_total,
        maxOrderVolume: c.max_order_volume,
      }),
    );
  }
  return out;
}

/** Reads the callers file; refuses one that group or others may write. */
export async function loadCallersFile(path: string): Promise<Map<string, CallerPolicy>> {
  let text: string;
  try {
    const st = await stat(path);
    if ((st.mode & 0o022) !== 0)
      throw fileInvalid(path, "group or others may write it; chmod 0644 or stricter");
    text = await readFile(path, "utf8");
  } catch (err) {
    if ((err as { code?: string }).code === "SIGNER_KEY_FILE_INVALID") throw err;
    throw fileInvalid(path, "cannot be read", err);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw fileInvalid(path, "not valid JSON", err);
  }
  return parseCallers(raw, path);
}
