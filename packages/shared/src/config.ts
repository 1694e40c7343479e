import { z } from "zod";
import { UplineError } from "./errors.ts";

/** The environment as given to a process: only strings, possibly absent. */
export type Env = Readonly<Record<string, string | undefined>>;

export interface LoadConfigOptions {
  /**
   * Variables starting with one of these prefixes must be known to the schema;
   * anything else with the prefix is reported as unknown (it is usually a typo).
   */
  readonly strictPrefixes?: readonly string[];
}

/**
 * Parses the environment with one zod object schema whose keys are variable
 * names. Returns a deep-frozen result, or throws one CONFIG_INVALID error that
 * names every bad, missing or unknown variable with the field's description as
 * the hint. Values are never echoed: some of them are secrets.
 */
export function loadConfig<S extends z.ZodObject>(
  schema: S,
  env: Env,
  options: LoadConfigOptions = {},
): Readonly<z.infer<S>> {
  const known = Object.keys(schema.shape);
  const input: Record<string, string> = {};
  for (const name of known) {
    const value = env[name];
    if (value !== undefined && value !== "") input[name] = value;
  }

  const problems: string[] = [];
  for (const prefix of options.strictPrefixes ?? []) {
    for (const name of Object.keys(env)) {
      if (name.startsWith(prefix) && !known.includes(name)) {
        problems.push(
          `${name}: unknown variable (known ${prefix}* variables: ${known.filter((k) => k.startsWith(prefix)).join(", ")})`,
        );
      }
    }
  }

  const parsed = schema.safeParse(input);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const name = String(issue.path[0] ?? "(environment)");
      const description = describe(schema.shape[name] as z.ZodType | undefined);
      const hint = description ? ` (${description})` : "";
      const what =
        issue.code === "invalid_type" && input[name] === undefined ? "required" : issue.message;
      problems.push(`${name}: ${what}${hint}`);
    }
  }

  if (problems.length > 0) {
    throw new UplineError(
      "CONFIG_INVALID",
      `invalid configuration:\n${problems.map((p) => `  - ${p}`).join("\n")}`,
      { details: { variables: problems.map((p) => p.slice(0, p.indexOf(":"))) } },
    );
  }
  return deepFreeze(parsed.data as z.infer<S>);
}

/** The description of a field, looking through default/optional/pipe wrappers. */
function describe(field: z.ZodType | undefined): string | undefined {
  let current: unknown = field;
  for (let depth = 0; current && depth < 5; depth++) {
    const schema = current as z.ZodType & { _zod: { def: { innerType?: unknown; in?: unknown } } };
    if (schema.description) return schema.description;
    current = schema._zod.def.innerType ?? schema._zod.def.in;
  }
  return undefined;
}

function deepFreeze<T>(value: T): Readonly<T> {
  if (value !== null && typeof value === "object" && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const inner of Object.values(value)) deepFreeze(inner);
  }
  return value;
}

/** Environment fragments shared by every service; spread them into a service's schema. */
export const env = {
  /** A boolean written as true/false/1/0/yes/no. */
  bool: (description: string) =>
    z
      .enum(["true", "false", "1", "0", "yes", "no"])
      .transform((v) => v === "true" || v === "1" || v === "yes")
      .describe(description),
  /** A whole number within bounds. */
  int: (description: string, min: number, max: number) =>
    z.coerce.number().int().min(min).max(max).describe(description),
  url: (description: string, protocols: readonly string[]) =>
    z
      .string()
      .refine(
        (v) => {
          try {
            return protocols.includes(new URL(v).protocol.replace(/:$/, ""));
          } catch {
            return false;
          }
        },
        `must be a ${protocols.join(" or ")} URL`,
      )
      .describe(description),
} as const;

/** NATS connection settings (see `connectBus`). */
export const natsEnvSchema = {
  NATS_URL: z
    .string()
    .default("nats://127.0.0.1:4222")
    .describe("NATS server URL(s), comma-separated, e.g. nats://127.0.0.1:4222"),
  NATS_USER: z.string().optional().describe("NATS user name (with NATS_PASSWORD)"),
  NATS_PASSWORD: z.string().optional().describe("NATS password (with NATS_USER)"),
  NATS_TOKEN: z.string().optional().describe("NATS authentication token"),
  NATS_NKEY_SEED: z.string().optional().describe("NATS nkey seed (SU...)"),
  NATS_CREDS_FILE: z.string().optional().describe("path to a NATS .creds file"),
  NATS_INBOX_PREFIX: z
    .string()
    .regex(/^_INBOX(\.[A-Za-z0-9_-]+)*$/, "must be _INBOX or _INBOX.<token>[.<token>…]")
    .optional()
    .describe("prefix of reply subjects, e.g. _INBOX.signer (deploy/nats gives each user its own)"),
  UPLINE_NAMESPACE: z
    .string()
    .regex(
      /^[a-z][a-z0-9]{0,15}$/,
      "must be 1-16 lower-case letters or digits, starting with a letter",
    )
    .optional()
    .describe(
      "prefix for every subject, stream and bucket, to run several upline systems on one NATS",
    ),
} as const;

/** Logging and telemetry settings. */
export const observabilityEnvSchema = {
  LOG_LEVEL: z
    .enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"])
    .default("info")
    .describe("pino log level"),
  OTEL_EXPORTER_OTLP_ENDPOINT: env
    .url("OTLP/HTTP collector base URL, e.g. http://127.0.0.1:4318; unset exports nothing", [
      "http",
      "https",
    ])
    .optional(),
} as const;

/** The HTTP port for /healthz and /readyz. */
export const healthEnvSchema = {
  HEALTH_PORT: env.int("port for /healthz and /readyz (0 picks a free port)", 0, 65535).default(0),
} as const;
