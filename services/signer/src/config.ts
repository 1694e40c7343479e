import { env, serviceEnvSchema } from "@upline/shared";
import { z } from "zod";

/** The signer service's environment (see the README's configuration table). */
export const configSchema = z
  .object({
    ...serviceEnvSchema,
    SIGNER_KEYS_DIR: z
      .string()
      .optional()
      .describe("directory of exchange key files (a mounted secret), each mode 0600 or 0400"),
    SIGNER_CALLERS_FILE: z
      .string()
      .describe("JSON file of callers: Ed25519 public JWK and policy per caller"),
    SIGNER_JWT_ALG: z.enum(["HS512", "HS256"]).default("HS512").describe("Upbit token algorithm"),
    SIGNER_ROTATION_GRACE_S: env
      .int(
        "seconds an old key version stays usable (pinned) after a new one appears",
        0,
        86_400 * 30,
      )
      .default(3600),
    SIGNER_EXPIRY_WARN_DAYS: env
      .int("warn (log, audit, metric) this many days before a key's not_after", 0, 365)
      .default(30),
    SIGNER_SESSION_TTL_S: env
      .int("lifetime of a caller's sealing session", 60, 86_400)
      .default(3600),
    SIGNER_AUDIT_MAX_IN_FLIGHT: env
      .int("audit events awaiting JetStream's ack before grants are refused", 1, 100_000)
      .default(4096),
    SIGNER_WATCH_FILES: env.bool("reload when key or callers files change").default(true),
    SIGNER_DEV_ALLOW_ENV_KEYS: env
      .bool("development only: allow SIGNER_DEV_KEYS (keys in the environment)")
      .default(false),
    SIGNER_DEV_KEYS: z
      .string()
      .optional()
      .describe("development only: JSON array of key files; needs SIGNER_DEV_ALLOW_ENV_KEYS=true"),
  })
  .refine((c) => c.SIGNER_DEV_KEYS === undefined || c.SIGNER_DEV_ALLOW_ENV_KEYS, {
    path: ["SIGNER_DEV_KEYS"],
    message: "keys in the environment need SIGNER_DEV_ALLOW_ENV_KEYS=true (development only)",
  })
  .refine((c) => c.SIGNER_KEYS_DIR !== undefined || c.SIGNER_DEV_KEYS !== undefined, {
    path: ["SIGNER_KEYS_DIR"],
    message: "required",
  });

export type Config = z.infer<typeof configSchema>;

/** Variables with this prefix must be known to the schema (catches typos). */
export const CONFIG_PREFIX = "SIGNER_";
