/**
 * node --test global set-up: one NATS and one PostgreSQL for the whole run,
 * handed to every test file through the environment. Test files isolate
 * themselves with unique namespaces and databases.
 */
import { type ManagedServer, startNats, startPostgres } from "./containers.ts";

let servers: ManagedServer[] = [];

export async function globalSetup(): Promise<void> {
  const [nats, postgres] = await Promise.all([startNats(), startPostgres()]);
  servers = [nats, postgres];
  process.env.UPLINE_TESTKIT_NATS_URL = nats.url;
  process.env.UPLINE_TESTKIT_DATABASE_URL = postgres.url;
}

export async function globalTeardown(): Promise<void> {
  await Promise.allSettled(servers.map((s) => s.stop()));
}
