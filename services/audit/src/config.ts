import { serviceEnvSchema } from "@upline/shared";
import { z } from "zod";

/** The audit service's environment (see the README's configuration table). */
export const configSchema = z.object({
  ...serviceEnvSchema,
  DATABASE_URL: z
    .string()
    .optional()
    .describe("PostgreSQL URL; unset stores into embedded PGlite under AUDIT_DATA_DIR"),
  AUDIT_DATA_DIR: z
    .string()
    .default(".data/audit")
    .describe("PGlite data directory when DATABASE_URL is unset"),
});

export type Config = z.infer<typeof configSchema>;

/** Variables with this prefix must be known to the schema (catches typos). */
export const CONFIG_PREFIX = "AUDIT_";
