/** Configuration of the standalone simulator (src/main.ts): flags override environment variables. */
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { z } from "zod";
import type { SimAccount, SimOptions } from "./types.ts";

const scope = z.enum([
  "view_accounts",
  "make_orders",
  "view_orders",
  "withdraw",
  "view_withdrawals",
  "deposit",
  "view_deposits",
]);

const accountSchema = z.strictObject({
  accessKey: z.string().min(1),
  secretKey: z.string().min(1),
  balances: z.record(z.string(), z.string().regex(/^\d+(\.\d+)?$/)).optional(),
  scopes: z.array(scope).optional(),
  allowedIps: z.array(z.string()).optional(),
  notAfter: z.union([z.number(), z.string()]).optional(),
  pocket: z.string().optional(),
});

const envSchema = z.object({
  UPBIT_SIM_PORT: z.coerce.number().int().min(0).max(65535).default(4100),
  UPBIT_SIM_HOST: z.string().default("127.0.0.1"),
  UPBIT_SIM_MARKETS: z.string().default("KRW-BTC,KRW-ETH,KRW-XRP,BTC-ETH,USDT-BTC"),
  UPBIT_SIM_SEED: z.string().default("1"),
  UPBIT_SIM_ACCOUNTS_FILE: z.string().optional(),
  UPBIT_SIM_TICK_MS: z.coerce.number().int().min(0).default(250),
  UPBIT_SIM_ADMIN: z.enum(["true", "false"]).default("true"),
  UPBIT_SIM_RATE_LIMITS: z.enum(["on", "off"]).default("on"),
  UPBIT_SIM_ORDER_RPS: z.coerce.number().int().min(1).optional(),
});

export class SimStartupError extends Error {
  readonly code = "SIM_BAD_CONFIG" as const;
}

/**
 * Reads `--port --host --markets --seed --accounts <file> --tick-ms --admin --no-limits --order-rps`
 * or the matching UPBIT_SIM_* variables. Every bad value is named in one error.
 */
export function loadConfig(argv: readonly string[], env: NodeJS.ProcessEnv): SimOptions {
  const { values } = parseArgs({
    // pnpm passes a literal "--" before script arguments.
    args: argv[0] === "--" ? argv.slice(1) : [...argv],
    options: {
      port: { type: "string" },
      host: { type: "string" },
      markets: { type: "string" },
      seed: { type: "string" },
      accounts: { type: "string" },
      "tick-ms": { type: "string" },
      admin: { type: "string" },
      "no-limits": { type: "boolean" },
      "order-rps": { type: "string" },
    },
    strict: true,
  });
  const merged = {
    ...env,
    ...(values.port !== undefined && { UPBIT_SIM_PORT: values.port }),
    ...(values.host !== undefined && { UPBIT_SIM_HOST: values.host }),
    ...(values.markets !== undefined && { UPBIT_SIM_MARKETS: values.markets }),
    ...(values.seed !== undefined && { UPBIT_SIM_SEED: values.seed }),
    ...(values.accounts !== undefined && { UPBIT_SIM_ACCOUNTS_FILE: values.accounts }),
    ...(values["tick-ms"] !== undefined && { UPBIT_SIM_TICK_MS: values["tick-ms"] }),
    ...(values.admin !== undefined && { UPBIT_SIM_ADMIN: values.admin }),
    ...(values["no-limits"] === true && { UPBIT_SIM_RATE_LIMITS: "off" }),
    ...(values["order-rps"] !== undefined && { UPBIT_SIM_ORDER_RPS: values["order-rps"] }),
  };
  const parsed = envSchema.safeParse(merged);
  if (!parsed.success)
    throw new SimStartupError(
      parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; "),
    );
  const c = parsed.data;
  let accounts: SimAccount[] = [];
  if (c.UPBIT_SIM_ACCOUNTS_FILE !== undefined) {
    let raw: unknown;
    try {
      raw = JSON.parse(readFileSync(c.UPBIT_SIM_ACCOUNTS_FILE, "utf8"));
    } catch (err) {
      throw new SimStartupError(
        `UPBIT_SIM_ACCOUNTS_FILE: cannot read ${c.UPBIT_SIM_ACCOUNTS_FILE}`,
        { cause: err },
      );
    }
    const acc = z.array(accountSchema).safeParse(raw);
    if (!acc.success)
      throw new SimStartupError(
        `UPBIT_SIM_ACCOUNTS_FILE: ${acc.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`,
      );
    accounts = acc.data as SimAccount[];
  }
  const seedNum = Number(c.UPBIT_SIM_SEED);
  return Object.freeze({
    port: c.UPBIT_SIM_PORT,
    host: c.UPBIT_SIM_HOST,
    markets: c.UPBIT_SIM_MARKETS.split(",")
      .map((m) => m.trim())
      .filter((m) => m !== ""),
    seed: Number.isFinite(seedNum) ? seedNum : c.UPBIT_SIM_SEED,
    accounts,
    tickIntervalMs: c.UPBIT_SIM_TICK_MS,
    admin: c.UPBIT_SIM_ADMIN === "true",
    rateLimits:
      c.UPBIT_SIM_RATE_LIMITS === "off"
        ? false
        : c.UPBIT_SIM_ORDER_RPS !== undefined
          ? { order: c.UPBIT_SIM_ORDER_RPS }
          : {},
  });
}
