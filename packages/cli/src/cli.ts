/**
 * The `upline` command router. A command is a module that exports a
 * {@link Command}; {@link COMMANDS} lists them. Later issues add theirs there.
 */
import { isUplineError } from "@upline/shared";
import { auditCommands } from "./commands/audit.ts";

/** What a command may touch: output streams, the environment, a stop signal. */
export interface CliIo {
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Aborted on SIGINT/SIGTERM: long-running commands (tail) end cleanly. */
  readonly signal: AbortSignal;
}

export interface Command {
  /** Words that select the command, e.g. `["audit", "verify"]`. */
  readonly path: readonly string[];
  readonly summary: string;
  readonly usage: string;
  /** Returns the process exit code. */
  readonly run: (args: readonly string[], io: CliIo) => Promise<number>;
}

export const ExitCode = { Ok: 0, Failed: 1, Usage: 2 } as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

export const COMMANDS: readonly Command[] = [...auditCommands];

function help(commands: readonly Command[]): string {
  const width = Math.max(...commands.map((c) => c.path.join(" ").length));
  return `usage: upline <command> [options]\n\ncommands:\n${commands
    .map((c) => `  ${c.path.join(" ").padEnd(width)}  ${c.summary}`)
    .join("\n")}\n\nupline <command> --help shows a command's options.\n`;
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
    if (isUplineError(err)) io.err(`upline: ${err.code}: ${err.message}\n`);
    else if ((err as { code?: string }).code?.startsWith("ERR_PARSE_ARGS")) {
      io.err(
        `upline: ${(err as Error).message}\nusage: upline ${command.path.join(" ")} ${command.usage}\n`,
      );
      return ExitCode.Usage;
    } else io.err(`upline: ${(err as Error)?.message ?? String(err)}\n`);
    return ExitCode.Failed;
  }
}
