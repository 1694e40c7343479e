import { serviceEnvSchema } from "@upline/shared";
import { z } from "zod";

/** The market-feed service's environment (see the README's configuration table). */
export const configSchema = z.object({
  ...serviceEnvSchema,
  UPBIT_WS_URL: z
    .string()
    .default("wss://api.upbit.com/websocket/v1")
    .describe("Upbit public WebSocket URL"),
  UPBIT_REST_URL: z
    .string()
    .default("https://api.upbit.com")
    .describe("Upbit REST base URL, without /v1"),
  FEED_MARKETS: z
    .string()
    .optional()
    .describe("comma-separated markets to publish, e.g. KRW-BTC,KRW-ETH"),
});

export type Config = z.infer<typeof configSchema>;

/** Variables with this prefix must be known to the schema (catches typos). */
export const CONFIG_PREFIX = "FEED_";
