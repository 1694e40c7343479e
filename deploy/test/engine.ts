/**
 * The container engine as the deploy tests use it: image builds and runs through the
 * `podman` CLI when present (CI), otherwise `docker`. Builds never pull: the base
 * image comes from NODE_IMAGE (CI: the stand-in from .ci/standins.sh).
 */
import { execFile, spawnSync } from "node:child_process";
import { resolve } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);
export const repoRoot = resolve(import.meta.dirname, "../..");

export const SERVICES = ["signer", "audit", "market-feed", "order-exec", "upbit-sim"] as const;
export type Service = (typeof SERVICES)[number];

function onPath(cmd: string): boolean {
  return spawnSync("sh", ["-c", `command -v ${cmd}`]).status === 0;
}

export const engine = onPath("podman") ? "podman" : "docker";

/** The Node 24 base for builds: NODE_IMAGE, or the official image where pulling works. */
export const nodeImage = process.env.NODE_IMAGE ?? "node:24-slim";

export interface Result {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs the engine's CLI; never throws for a non-zero exit (the caller asserts). */
export async function cli(
  args: readonly string[],
  options: { timeoutMs?: number; cwd?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<Result> {
  return exec(engine, args, options);
}

export async function exec(
  cmd: string,
  args: readonly string[],
  options: { timeoutMs?: number; cwd?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<Result> {
  try {
    const { stdout, stderr } = await run(cmd, [...args], {
      cwd: options.cwd ?? repoRoot,
      timeout: options.timeoutMs ?? 300_000,
      maxBuffer: 64 * 1024 * 1024,
      env: options.env ?? process.env,
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number | string; stdout?: string; stderr?: string };
    return {
      code: typeof e.code === "number" ? e.code : 1,
      stdout: e.stdout ?? "",
      stderr: e.stderr ?? String(err),
    };
  }
}

/** Tag of a service image built by the tests. */
export function imageTag(service: Service | "otlp-file-receiver", tag = "test"): string {
  return `localhost/upline/${service}:${tag}`;
}

/** Builds one service image from the repository's Dockerfile without pulling anything. */
export async function buildService(service: Service, tag = "test"): Promise<Result> {
  return build(["--build-arg", `SERVICE=${service}`, "-t", imageTag(service, tag), "."]);
}

/** Builds the OTLP receiver that stands in for the collector image (smoke test, CI). */
export async function buildOtlpReceiver(tag = "test"): Promise<Result> {
  return build([
    "-f",
    "deploy/docker/otlp-receiver.Dockerfile",
    "-t",
    imageTag("otlp-file-receiver", tag),
    ".",
  ]);
}

async function build(args: readonly string[]): Promise<Result> {
  const pull = engine === "podman" ? ["--pull=never", "--format", "docker"] : [];
  return cli(["build", ...pull, "--build-arg", `NODE_IMAGE=${nodeImage}`, ...args], {
    timeoutMs: 600_000,
  });
}

/** Fails with the command's own output, which says what went wrong. */
export function describeFailure(what: string, r: Result): string {
  const tail = (s: string) => s.split("\n").slice(-30).join("\n");
  return `${what} exited ${r.code}\n--- stdout\n${tail(r.stdout)}\n--- stderr\n${tail(r.stderr)}`;
}
