/**
 * The CLI's environment, parsed once per command with `loadConfig`. Values a
 * running `pnpm start` wrote to its run file (`.data/run/run.json`) fill in what
 * the environment leaves unset, so the commands work right after `pnpm start`
 * with nothing exported.
 */
import { readFileSync } from "node:fs";
import { type Env, env, loadConfig, natsEnvSchema, UplineError } from "@upline/shared";
import { z } from "zod";

export const cliEnvSchema = z.object({
  ...natsEnvSchema,
  UPLINE_RUN_FILE: z
    .string()
    .default(".data/run/run.json")
    .describe("run file written by `pnpm start`; its values are defaults for the variables here"),
  UPLINE_OPERATOR_ID: z
    .string()
    .default("operator")
    .describe("the operator's caller id at the signer (an admin caller)"),
  UPLINE_OPERATOR_KEY_FILE: z
    .string()
    .optional()
    .describe("file with the operator's Ed25519 private JWK (mode 0600), for `upline keys`"),
  UPLINE_ACCOUNT: z
    .string()
    .default("main")
    .describe("account used by `upline order` when --account is not given"),
  UPLINE_ACTOR: z
    .string()
    .max(100)
    .optional()
    .describe("who is acting, recorded in audit events and the kill switch (default: $USER)"),
  USER: z.string().optional().describe("login name, the default actor"),
  UPLINE_HEALTH_URLS: z
    .string()
    .optional()
    .describe("service health base URLs for `upline status`: name=url,name=url"),
  UPLINE_TIMEOUT_MS: env.int("NATS connect and request timeout", 100, 600_000).default(5_000),
  AUDIT_CONSUMER: z
    .string()
    .default("audit-store")
    .describe("the audit service's durable consumer on stream AUDIT (for `upline status`)"),
});

export type CliConfig = Readonly<z.infer<typeof cliEnvSchema>>;

/** What `pnpm start` writes for the CLI: environment defaults. */
export const RunFile = z.object({ env: z.record(z.string(), z.string()) });

/** The run file's variables, or none when it is absent or unreadable. */
export function readRunFile(path: string): Record<string, string> {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch {
    return {};
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return {};
  }
  const parsed = RunFile.safeParse(raw);
  return parsed.success ? parsed.data.env : {};
}

/** The CLI configuration: the environment over the run file's defaults. */
export function cliConfig(environment: Env): CliConfig {
  const runFile = environment.UPLINE_RUN_FILE ?? ".data/run/run.json";
  const merged: Record<string, string | undefined> = { ...readRunFile(runFile) };
  for (const [k, v] of Object.entries(environment)) if (v !== undefined && v !== "") merged[k] = v;
  return loadConfig(cliEnvSchema, merged);
}

/** Who is acting: UPLINE_ACTOR, else `operator:$USER`. */
export function actorOf(config: CliConfig): string {
  return config.UPLINE_ACTOR ?? `${config.UPLINE_OPERATOR_ID}:${config.USER ?? "unknown"}`;
}

/** `name=url,name=url` → entries. */
export function healthUrls(config: CliConfig): [string, string][] {
  if (config.UPLINE_HEALTH_URLS === undefined) return [];
  return config.UPLINE_HEALTH_URLS.split(",")
    .map((p) => p.trim())
    .filter((p) => p !== "")
    .map((p) => {
      const at = p.indexOf("=");
      if (at <= 0)
        throw new UplineError(
          "CONFIG_INVALID",
          `UPLINE_HEALTH_URLS: "${p}" is not name=url (e.g. signer=http://127.0.0.1:9102)`,
        );
      return [p.slice(0, at), p.slice(at + 1)] as [string, string];
    });
}
