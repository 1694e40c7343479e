/**
 * `upline sim`: the Upbit simulator in this process until Ctrl-C, with the
 * admin API on, prints its URLs. Accounts come from a JSON file (the
 * simulator's own format: [{accessKey, secretKey, balances?, scopes?}]).
 */
import { readFile } from "node:fs/promises";
import { parseArgs } from "node:util";
import { type SimAccount, startSim } from "@upline/upbit-sim";
import { type Command, UsageError } from "../cli.ts";
import { ExitCode, printJson } from "../output.ts";

const int = (value: string | undefined, name: string, fallback: number) => {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 0) throw new UsageError(`--${name} must be a whole number`);
  return n;
};

const sim: Command = {
  path: ["sim"],
  summary: "run the Upbit simulator (REST, WebSocket, admin API) until Ctrl-C",
  usage:
    "[--port 4100] [--host 127.0.0.1] [--markets KRW-BTC,KRW-ETH] [--seed 1] [--accounts FILE] [--tick-ms 250] [--no-limits] [--json]",
  run: async (args, io) => {
    const { values } = parseArgs({
      args: [...args],
      options: {
        port: { type: "string" },
        host: { type: "string" },
        markets: { type: "string" },
        seed: { type: "string" },
        accounts: { type: "string" },
        "tick-ms": { type: "string" },
        "no-limits": { type: "boolean", default: false },
        json: { type: "boolean", default: false },
      },
      strict: true,
    });
    let accounts: SimAccount[] = [];
    if (values.accounts !== undefined) {
      try {
        accounts = JSON.parse(await readFile(values.accounts, "utf8")) as SimAccount[];
        if (!Array.isArray(accounts)) throw new TypeError("not an array");
      } catch (err) {
        throw new UsageError(
          `--accounts ${values.accounts}: not a JSON array of {accessKey, secretKey, balances?} (${(err as Error).message})`,
        );
      }
    }
    const markets = values.markets
      ?.split(",")
      .map((m) => m.trim())
      .filter((m) => m !== "");
    const s = await startSim({
      port: int(values.port, "port", 4100),
      host: values.host ?? "127.0.0.1",
      ...(markets === undefined ? {} : { markets }),
      seed: values.seed ?? 1,
      accounts,
      tickIntervalMs: int(values["tick-ms"], "tick-ms", 250),
      admin: true,
      ...(values["no-limits"] ? { rateLimits: false as const } : {}),
    });
    const urls = {
      rest: s.restUrl,
      ws: s.wsUrl,
      private_ws: s.privateWsUrl,
      admin: s.adminUrl,
      accounts: accounts.length,
    };
    if (values.json) printJson(io, urls);
    else
      io.out(
        `upbit-sim running (Ctrl-C to stop)\n  REST        ${s.restUrl}/v1\n  WebSocket   ${s.wsUrl}\n  private WS  ${s.privateWsUrl}\n  admin       ${s.adminUrl ?? "-"}\n  accounts    ${accounts.length}\n` +
          `point services at it: UPBIT_REST_URL=${s.restUrl} UPBIT_WS_URL=${s.wsUrl} UPBIT_PRIVATE_WS_URL=${s.privateWsUrl}\n`,
      );
    await new Promise<void>((resolve) => {
      if (io.signal.aborted) resolve();
      else io.signal.addEventListener("abort", () => resolve(), { once: true });
    });
    await s.stop();
    if (!values.json) io.out("upbit-sim stopped\n");
    return ExitCode.Ok;
  },
};

export const simCommands: readonly Command[] = [sim];
