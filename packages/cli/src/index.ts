/** Front door of @upline/cli: the router and the commands (for tests and later issues). */

export type { CliIo, Command } from "./cli.ts";
export { COMMANDS, runCli, UsageError } from "./cli.ts";
export { auditCommands } from "./commands/audit.ts";
export type { FeedView } from "./commands/feed.ts";
export {
  feedCommands,
  formatHealth,
  formatTicker,
  formatTrade,
  renderView,
} from "./commands/feed.ts";
export { keysCommands, readOperatorKey } from "./commands/keys.ts";
export {
  intentFromFlags,
  latestPerOrder,
  newClientOrderId,
  orderCommands,
  traced,
} from "./commands/order.ts";
export { simCommands } from "./commands/sim.ts";
export type { ServiceHealth, StreamState } from "./commands/status.ts";
export { probeService, statusCommands } from "./commands/status.ts";
export { tradingCommands } from "./commands/trading.ts";
export type { CliConfig } from "./config.ts";
export { actorOf, cliConfig, cliEnvSchema, healthUrls, readRunFile } from "./config.ts";
export { ExitCode, exitCodeFor, hintFor, table } from "./output.ts";
export { runSystem } from "./system.ts";
