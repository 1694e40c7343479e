/**
 * Generates everything a development deployment needs that must never be committed:
 * NATS passwords, the PostgreSQL password, a simulator account with the matching
 * signer key file, and the Ed25519 caller keys of order-exec and the operator.
 *
 *   node deploy/scripts/dev-secrets.ts [--dir .data/deploy] [--uid 1000] [--force]
 *
 * Writes into --dir (default .data/deploy, git-ignored):
 *   compose.env            NATS_PASSWORD_<USER> and POSTGRES_PASSWORD (docker-compose --env-file)
 *   signer-keys/main.json  the exchange key (mode 0600): mounted into the signer only
 *   callers.json           who may ask the signer for what (public keys only)
 *   order-exec-caller.jwk  order-exec's private Ed25519 JWK (mode 0600)
 *   operator-caller.jwk    the operator's private Ed25519 JWK (`upline keys …`)
 *   sim-accounts.json      the simulator's account with the same access and secret key
 * Files are owned by --uid (the images' user, 1000) when run as root.
 */

import { generateKeyPairSync, randomBytes } from "node:crypto";
import { chownSync, existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { SIGNER_ENDPOINTS } from "@upline/order-exec";

export const NATS_USERS = ["market-feed", "order-exec", "signer", "audit", "strategy", "admin"];

/** `NATS_PASSWORD_ORDER_EXEC` for user `order-exec`. */
export function natsPasswordVariable(user: string): string {
  return `NATS_PASSWORD_${user.toUpperCase().replaceAll("-", "_")}`;
}

export interface DevSecretsOptions {
  readonly dir: string;
  /** Owner of the files when running as root (the containers' user). */
  readonly uid?: number;
  readonly force?: boolean;
}

export interface DevSecrets {
  readonly dir: string;
  readonly env: Readonly<Record<string, string>>;
}

function secret(bytes = 24): string {
  return randomBytes(bytes).toString("base64url");
}

/**
 * A password for nats.conf's `password: $VARIABLE`. nats-server parses the
 * variable's value as a config value, so a value starting with `-` or a digit
 * can read as a number or a date and stop the server ("could not be parsed"):
 * a random base64url secret did that about one time in twenty. Starting with a
 * letter makes it a plain string.
 */
export function natsPassword(bytes = 24): string {
  return `p${secret(bytes)}`;
}

function ed25519(): { privateJwk: object; publicJwk: { kty: string; crv: string; x: string } } {
  const { privateKey, publicKey } = generateKeyPairSync("ed25519");
  return {
    privateJwk: privateKey.export({ format: "jwk" }),
    publicJwk: publicKey.export({ format: "jwk" }) as { kty: string; crv: string; x: string },
  };
}

/** Writes a fresh set of development secrets into `options.dir`. */
export function writeDevSecrets(options: DevSecretsOptions): DevSecrets {
  const dir = resolve(options.dir);
  if (existsSync(join(dir, "compose.env")) && options.force !== true) {
    throw new Error(`${dir} already holds secrets; pass --force to replace them`);
  }
  mkdirSync(join(dir, "signer-keys"), { recursive: true, mode: 0o700 });
  const owned: string[] = [dir, join(dir, "signer-keys")];
  const write = (name: string, content: string, mode: number) => {
    const path = join(dir, name);
    writeFileSync(path, content, { mode });
    owned.push(path);
  };

  const env: Record<string, string> = { POSTGRES_PASSWORD: secret() };
  for (const user of NATS_USERS) env[natsPasswordVariable(user)] = natsPassword();
  write(
    "compose.env",
    `${Object.entries(env)
      .map(([k, v]) => `${k}=${v}`)
      .join("\n")}\n`,
    0o600,
  );

  const accessKey = `dev-${secret(15)}`;
  const secretKey = secret(32);
  write(
    "signer-keys/main.json",
    `${JSON.stringify({
      key_id: "main",
      version: 1,
      access_key: accessKey,
      secret_key: secretKey,
      account: "main",
      scopes: ["view_accounts", "make_orders", "view_orders"],
    })}\n`,
    0o600,
  );
  write(
    "sim-accounts.json",
    `${JSON.stringify([
      {
        accessKey,
        secretKey,
        balances: { KRW: "100000000", BTC: "10", ETH: "100" },
        scopes: ["view_accounts", "make_orders", "view_orders"],
      },
    ])}\n`,
    0o600,
  );

  const orderExec = ed25519();
  const operator = ed25519();
  write("order-exec-caller.jwk", `${JSON.stringify(orderExec.privateJwk)}\n`, 0o600);
  write("operator-caller.jwk", `${JSON.stringify(operator.privateJwk)}\n`, 0o600);
  write(
    "callers.json",
    `${JSON.stringify(
      {
        callers: [
          {
            id: "order-exec",
            public_jwk: orderExec.publicJwk,
            keys: ["main"],
            endpoints: SIGNER_ENDPOINTS,
          },
          { id: "operator", public_jwk: operator.publicJwk, admin: true },
        ],
      },
      null,
      2,
    )}\n`,
    0o644,
  );

  const uid = options.uid ?? 1000;
  if (process.getuid?.() === 0) for (const path of owned) chownSync(path, uid, uid);
  return { dir, env };
}

if (import.meta.main) {
  const { values } = parseArgs({
    options: {
      dir: { type: "string", default: ".data/deploy" },
      uid: { type: "string", default: "1000" },
      force: { type: "boolean", default: false },
    },
  });
  const { dir } = writeDevSecrets({
    dir: values.dir,
    uid: Number(values.uid),
    force: values.force,
  });
  process.stdout.write(
    `development secrets written to ${dir}\n` +
      `  docker-compose --env-file ${join(dir, "compose.env")} up -d\n`,
  );
}
