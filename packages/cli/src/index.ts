/** Front door of @upline/cli: the router and the commands (for tests and later issues). */

export type { CliIo, Command } from "./cli.ts";
export { COMMANDS, ExitCode, runCli } from "./cli.ts";
export { auditCommands } from "./commands/audit.ts";
