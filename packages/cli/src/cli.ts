/**
 * The `upline` command router. A command is a module that exports a
 * {@link Command}; {@link COMMANDS} lists them. Later issues add theirs there.
 */
import { isUplineError } from "@upline/shared";
import { auditCommands } from "./commands/audit.ts";
import { feedCommands } from "./commands/feed.ts";
import { keysCommands } from "./commands/keys.ts";
import { orderCommands } from "./commands/order.ts";
import { simCommands } from "./commands/sim.ts";
import { statusCommands } from "./commands/status.ts";
import { tradingCommands } from "./commands/trading.ts";
import { ExitCode, fail } from "./output.ts";

export { ExitCode } from "./output.ts";

/** What a command may touch: output streams, the environment, a stop signal. */
export interface CliIo {
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Aborted on SIGINT/SIGTERM: long-running commands (tail) end cleanly. */
  readonly signal: AbortSignal;
  /** stdout is a terminal: live views redraw in place instead of printing lines. */
  readonly isTty?: boolean;
}

export interface Command {
  /** Words that select the command, e.g. `["audit", "verify"]`. */
  readonly path: readonly string[];
  readonly summary: string;
  readonly usage: string;
  /** Returns the process exit code. */
  readonly run: (args: readonly string[], io: CliIo) => Promise<number>;
}

export const COMMANDS: readonly Command[] = [
  ...orderCommands,
  ...tradingCommands,
  ...feedCommands,
  ...keysCommands,
  ...statusCommands,
  ...simCommands,
  ...auditCommands,
];

/** A command line that cannot be run as given (exit 2, with the command's usage). */
export class UsageError extends Error {
  override readonly name = "UsageError";
  readonly code = "USAGE" as const;
}

function help(commands: readonly Command[]): string {
  const width = Math.max(...commands.map((c) => c.path.join(" ").length));
  return (
    `usage: upline <command> [options]\n\ncommands:\n${commands
      .map((c) => `  ${c.path.join(" ").padEnd(width)}  ${c.summary}`)
      .join(
        "\n",
      )}\n\nupline <command> --help shows a command's options; --json prints JSON for scripts.\n` +
    "exit codes: 0 ok, 1 failed or refused, 2 usage or configuration, 3 NATS or a service unreachable / timed out\n"
  );
}

/** Runs one command line; never throws (errors become a message and exit code). */
export async function runCli(
  argv: readonly string[],
  io: CliIo,
  commands: readonly Command[] = COMMANDS,
): Promise<number> {
  const command = commands
    .filter((c) => c.path.every((word, i) => argv[i] === word))
    .sort((a, b) => b.path.length - a.path.length)[0];
  if (!command) {
    const wantsHelp = argv.length === 0 || argv[0] === "--help" || argv[0] === "help";
    (wantsHelp ? io.out : io.err)(
      `${wantsHelp ? "" : `unknown command: ${argv.join(" ")}\n\n`}${help(commands)}`,
    );
    return wantsHelp ? ExitCode.Ok : ExitCode.Usage;
  }
  const args = argv.slice(command.path.length);
  if (args.includes("--help") || args.includes("-h")) {
    io.out(`usage: upline ${command.path.join(" ")} ${command.usage}\n`);
    return ExitCode.Ok;
  }
  try {
    return await command.run(args, io);
  } catch (err) {
    if (isUplineError(err)) return fail(io, err.code, err.message);
    if ((err as { code?: string }).code?.startsWith("ERR_PARSE_ARGS")) {
      io.err(
        `upline: ${(err as Error).message}\nusage: upline ${command.path.join(" ")} ${command.usage}\n`,
      );
      return ExitCode.Usage;
    }
    if (err instanceof UsageError) {
      io.err(`upline: ${err.message}\nusage: upline ${command.path.join(" ")} ${command.usage}\n`);
      return ExitCode.Usage;
    }
    io.err(`upline: ${(err as Error)?.message ?? String(err)}\n`);
    return ExitCode.Failed;
  }
}
