/**
 * `pnpm start`: the whole system on one machine — the simulator (or real
 * Upbit), NATS, and the four services supervised, until Ctrl-C. See
 * packages/cli/src/system.ts for what it starts, generates and prints.
 */
import { runSystem } from "@upline/cli";

await runSystem();
