import { loadConfig } from "@upline/shared";
import { z } from "zod";

/** What the testkit reads from the environment; parsed once. */
export const testkitEnvSchema = z.object({
  NATS_URL: z.string().optional().describe("use this NATS server instead of starting a container"),
  DATABASE_URL: z
    .string()
    .optional()
    .describe("use this PostgreSQL server instead of starting a container"),
  NATS_IMAGE: z.string().default("nats:2.11").describe("image for NATS containers"),
  POSTGRES_IMAGE: z.string().default("postgres:17").describe("image for PostgreSQL containers"),
  UPLINE_TESTKIT_NATS_GOMAXPROCS: z
    .string()
    .regex(/^[1-9][0-9]*$/)
    .default("1")
    .describe(
      "Go's GOMAXPROCS for NATS containers: one core, as docker-compose and Kubernetes run nats-server beside the services",
    ),
  UPLINE_TESTKIT_NATS_URL: z
    .string()
    .optional()
    .describe("set by the testkit's global set-up: the run's shared NATS"),
  UPLINE_TESTKIT_DATABASE_URL: z
    .string()
    .optional()
    .describe("set by the testkit's global set-up: the run's shared PostgreSQL"),
});

export type TestkitConfig = z.infer<typeof testkitEnvSchema>;

export function testkitConfig(): TestkitConfig {
  return loadConfig(testkitEnvSchema, process.env);
}
