/**
 * Standalone simulator: `pnpm --filter @upline/upbit-sim start -- --port 4100 --accounts keys.json`.
 * Wires only: read config, start, stop on SIGTERM/SIGINT.
 */
import { loadConfig } from "./config.ts";
import { startSim } from "./sim.ts";

const options = loadConfig(process.argv.slice(2), process.env);
const sim = await startSim(options);
const line = (s: string) => process.stdout.write(`${s}\n`);
line(`upbit-sim listening: rest ${sim.restUrl}/v1  ws ${sim.wsUrl}  private ${sim.privateWsUrl}`);
if (sim.adminUrl !== undefined) line(`upbit-sim admin: ${sim.adminUrl}`);
line(
  `upbit-sim markets ${(options.markets ?? []).join(",")}; ${(options.accounts ?? []).length} account(s); seed ${String(options.seed)}`,
);

const shutdown = () => {
  sim.stop().then(() => line("upbit-sim stopped"));
};
process.once("SIGTERM", shutdown);
process.once("SIGINT", shutdown);
