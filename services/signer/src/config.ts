import { serviceEnvSchema } from "@upline/shared";
import { z } from "zod";

/** The signer service's environment (see the README's configuration table). */
export const configSchema = z.object({
  ...serviceEnvSchema,
  SIGNER_KEYS_DIR: z
    .string()
    .describe("directory of exchange key files (a mounted secret), mode 0600"),
});

export type Config = z.infer<typeof configSchema>;

/** Variables with this prefix must be known to the schema (catches typos). */
export const CONFIG_PREFIX = "SIGNER_";
