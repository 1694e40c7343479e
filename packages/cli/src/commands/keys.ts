/**
 * `upline keys list | rotate | revoke`: the signer's admin requests
 * (`signer.v1.admin.<op>`), signed with the operator's Ed25519 key
 * (UPLINE_OPERATOR_KEY_FILE, an admin caller in the signer's callers file).
 * Rotation itself is a new key file with a higher version in SIGNER_KEYS_DIR;
 * `rotate` asks the signer to reload now and shows the result.
 */
import { readFile, stat } from "node:fs/promises";
import { parseArgs } from "node:util";
import { UplineError } from "@upline/shared";
import { type AdminReply, createSignerClient } from "@upline/signer";
import { withBus } from "../bus.ts";
import { type Command, UsageError } from "../cli.ts";
import { type CliConfig, cliConfig } from "../config.ts";
import { ExitCode, printJson, table } from "../output.ts";

/** Reads the operator's private JWK; refuses a file others can read, never echoes it. */
export async function readOperatorKey(config: CliConfig): Promise<Record<string, unknown>> {
  const path = config.UPLINE_OPERATOR_KEY_FILE;
  if (path === undefined)
    throw new UplineError(
      "CONFIG_INVALID",
      "UPLINE_OPERATOR_KEY_FILE is not set: point it at the operator's Ed25519 private JWK (`pnpm start` writes one to .data/run/operator.jwk)",
    );
  let mode: number;
  let text: string;
  try {
    mode = (await stat(path)).mode;
    text = await readFile(path, "utf8");
  } catch (err) {
    throw new UplineError("CONFIG_INVALID", `UPLINE_OPERATOR_KEY_FILE: cannot read ${path}`, {
      cause: (err as Error).name,
    });
  }
  if ((mode & 0o077) !== 0)
    throw new UplineError(
      "CONFIG_INVALID",
      `UPLINE_OPERATOR_KEY_FILE: ${path} is readable by group or others: chmod 600 ${path}`,
    );
  try {
    const jwk = JSON.parse(text) as Record<string, unknown>;
    if (jwk.kty !== "OKP" || jwk.crv !== "Ed25519" || typeof jwk.d !== "string")
      throw new TypeError("not an Ed25519 private JWK");
    return jwk;
  } catch {
    throw new UplineError(
      "CONFIG_INVALID",
      `UPLINE_OPERATOR_KEY_FILE: ${path} is not an Ed25519 private JWK ({"kty":"OKP","crv":"Ed25519","x":…,"d":…})`,
    );
  }
}

async function admin(
  io: Parameters<Command["run"]>[1],
  op: "list" | "reload" | "revoke",
  extra: { keyId?: string; version?: number } = {},
): Promise<AdminReply> {
  const config = cliConfig(io.env);
  const privateJwk = await readOperatorKey(config);
  return withBus(config, ({ nc, subjects }) =>
    createSignerClient({
      nc,
      subjects,
      callerId: config.UPLINE_OPERATOR_ID,
      privateJwk,
      timeoutMs: config.UPLINE_TIMEOUT_MS,
    }).admin(op, extra),
  );
}

function printKeys(reply: AdminReply, out: (s: string) => void): void {
  const keys = reply.keys ?? [];
  if (keys.length === 0) {
    out(`no keys loaded (signer replica ${reply.replica})\n`);
    return;
  }
  out(
    table([
      ["key_id", "version", "status", "account", "access_key", "scopes", "not_after"],
      ...keys.map((k) => [
        k.key_id,
        k.version,
        k.status,
        k.account,
        `${k.access_key_prefix}…`,
        k.scopes.join(","),
        k.not_after,
      ]),
    ]),
  );
  out(`(signer replica ${reply.replica})\n`);
}

const JSON_OPT = { json: { type: "boolean", default: false } } as const;

const list: Command = {
  path: ["keys", "list"],
  summary: "exchange keys the signer holds: id, version, status, scopes, expiry (never the secret)",
  usage: "[--json]",
  run: async (args, io) => {
    const { values } = parseArgs({ args: [...args], options: JSON_OPT, strict: true });
    const reply = await admin(io, "list");
    if (values.json) printJson(io, reply);
    else printKeys(reply, io.out);
    return ExitCode.Ok;
  },
};

const rotate: Command = {
  path: ["keys", "rotate"],
  summary:
    "reload key files now (after adding a higher version to SIGNER_KEYS_DIR) and list the result",
  usage: "[--json]",
  run: async (args, io) => {
    const { values } = parseArgs({ args: [...args], options: JSON_OPT, strict: true });
    const reloaded = await admin(io, "reload");
    const listed = await admin(io, "list");
    const problems = reloaded.problems ?? [];
    if (values.json) printJson(io, { problems, keys: listed.keys ?? [], replica: listed.replica });
    else {
      for (const p of problems) io.err(`upline: signer reload problem: ${p}\n`);
      printKeys(listed, io.out);
    }
    return problems.length === 0 ? ExitCode.Ok : ExitCode.Failed;
  },
};

const revoke: Command = {
  path: ["keys", "revoke"],
  summary: "refuse a key (every version, or one) at once and across restarts; then remove its file",
  usage: "<KEY_ID> [--version N] [--json]",
  run: async (args, io) => {
    const { values, positionals } = parseArgs({
      args: [...args],
      options: { ...JSON_OPT, version: { type: "string" } },
      allowPositionals: true,
      strict: true,
    });
    const keyId = positionals[0];
    if (keyId === undefined || positionals.length > 1)
      throw new UsageError("give exactly one key id");
    const version = values.version === undefined ? undefined : Number(values.version);
    if (version !== undefined && !(Number.isSafeInteger(version) && version > 0))
      throw new UsageError("--version must be a positive whole number");
    const reply = await admin(io, "revoke", {
      keyId,
      ...(version === undefined ? {} : { version }),
    });
    const n = reply.revoked ?? 0;
    const problems = reply.problems ?? [];
    if (values.json) printJson(io, reply);
    else {
      for (const p of problems) io.err(`upline: signer revoke problem: ${p}\n`);
      if (n === 0)
        io.err(
          `upline: signer replica ${reply.replica} holds no key ${keyId}${version === undefined ? "" : ` version ${version}`}: nothing refused now (see \`upline keys list\`); the revocation is kept and refuses it if it is loaded later\n`,
        );
      else
        io.out(
          `revoked ${n} version(s) of ${keyId} on signer replica ${reply.replica}: refused from now on.\n` +
            "  Kept in KV control (signer.revoked.*) across restarts and for new replicas; also remove the key file from SIGNER_KEYS_DIR.\n",
        );
    }
    return n === 0 || problems.length > 0 ? ExitCode.Failed : ExitCode.Ok;
  },
};

export const keysCommands: readonly Command[] = [list, rotate, revoke];
