import { env, serviceEnvSchema } from "@upline/shared";
import { z } from "zod";

const jsonRecord = (what: string) =>
  z.string().transform((text, ctx) => {
    try {
      const v = JSON.parse(text) as unknown;
      if (typeof v !== "object" || v === null || Array.isArray(v))
        throw new TypeError("not an object");
      for (const x of Object.values(v))
        if (typeof x !== "string") throw new TypeError("values must be strings");
      return v as Record<string, string>;
    } catch (err) {
      ctx.addIssue({ code: "custom", message: `${what}: ${(err as Error).message}` });
      return z.NEVER;
    }
  });

const list = z.string().transform((s) =>
  s
    .split(",")
    .map((x) => x.trim())
    .filter((x) => x !== ""),
);

/** The order-exec service's environment (see the README's configuration table). */
export const configSchema = z.object({
  ...serviceEnvSchema,
  UPBIT_REST_URL: z
    .string()
    .url()
    .default("https://api.upbit.com")
    .describe("Upbit REST base URL, without /v1"),
  UPBIT_PRIVATE_WS_URL: z
    .string()
    .default("wss://api.upbit.com/websocket/v1/private")
    .describe("Upbit private WebSocket (myOrder, myAsset); empty: no fills feed"),
  ORDER_EXEC_CALLER_ID: z
    .string()
    .default("order-exec")
    .describe("this service's caller id at the signer"),
  ORDER_EXEC_CALLER_KEY_FILE: z
    .string()
    .describe("file with this service's Ed25519 private JWK (mode 0600)"),
  ORDER_EXEC_ACCOUNTS: jsonRecord("ORDER_EXEC_ACCOUNTS").describe(
    'JSON: account → signer key id, e.g. {"main":"main"}',
  ),
  ORDER_EXEC_POCKET: z
    .string()
    .regex(/^[a-z0-9_-]+$/)
    .default("default")
    .describe("Upbit pocket the keys share (rate-limit scope)"),
  ORDER_EXEC_MARKETS: list.describe("comma list of markets orders may be placed in"),
  ORDER_EXEC_MIN_TOTAL: jsonRecord("ORDER_EXEC_MIN_TOTAL")
    .optional()
    .describe("JSON: quote → minimum order total"),
  ORDER_EXEC_MAX_TOTAL: jsonRecord("ORDER_EXEC_MAX_TOTAL")
    .optional()
    .describe("JSON: quote → maximum order total"),
  ORDER_EXEC_MAX_NOTIONAL: jsonRecord("ORDER_EXEC_MAX_NOTIONAL")
    .optional()
    .describe('JSON: market (or "*") → maximum notional of one order'),
  ORDER_EXEC_MAX_ORDERS_PER_S: env
    .int("intents accepted per second by one replica", 1, 100_000)
    .default(100),
  ORDER_EXEC_ORDER_LIMIT: env
    .int("Upbit order group limit per second (12 KR, 8 global)", 1, 1000)
    .default(12),
  ORDER_EXEC_GOVERNOR: env.bool("pace exchange calls with the shared rate governor").default(true),
  ORDER_EXEC_QUEUE_MS: env.int("longest an intent waits for a rate slot", 0, 60_000).default(5_000),
  ORDER_EXEC_HTTP_TIMEOUT_MS: env
    .int("headers/body timeout of an exchange call", 100, 60_000)
    .default(5_000),
  ORDER_EXEC_ABSENT_AFTER_MS: env
    .int(
      "an unknown order is proven absent only by a not-found this long after the send",
      0,
      600_000,
    )
    .default(2_000),
  ORDER_EXEC_RESOLVE_MS: env
    .int("longest an unknown order is looked up before an alarm", 1_000, 3_600_000)
    .default(120_000),
  ORDER_EXEC_RECOVER_STALE_MS: env
    .int(
      "a pending/unknown claim not updated this long is recovered by a scan (default: max(5 min, resolve + 2×queue + 2×http timeout))",
      1_000,
      86_400_000,
    )
    .optional(),
  ORDER_EXEC_RECOVER_SCAN_MS: env
    .int("interval of the stale-claim recovery scan after the one at start; 0: off", 0, 86_400_000)
    .default(60_000),
});

export type Config = z.infer<typeof configSchema>;

/** Variables with this prefix must be known to the schema (catches typos). */
export const CONFIG_PREFIX = "ORDER_EXEC_";
