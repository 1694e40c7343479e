import { serviceEnvSchema } from "@upline/shared";
import { z } from "zod";

/** The order-exec service's environment (see the README's configuration table). */
export const configSchema = z.object({
  ...serviceEnvSchema,
  UPBIT_REST_URL: z
    .string()
    .default("https://api.upbit.com")
    .describe("Upbit REST base URL, without /v1"),
});

export type Config = z.infer<typeof configSchema>;

/** Variables with this prefix must be known to the schema (catches typos). */
export const CONFIG_PREFIX = "ORDER_EXEC_";
