/**
 * `pnpm start` end to end: the real script as a child process against the
 * testkit's NATS (its own namespace, data in a temp dir), driven through the
 * CLI, stopped with SIGINT; no process may survive it.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { after, before, describe, test } from "node:test";
import { Latch, startNats, uniqueNamespace } from "@upline/testkit";
import { runCli } from "../src/index.ts";
import { jsonLines, recordingIo } from "./helpers.ts";

const root = resolve(import.meta.dirname, "../../..");

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe("pnpm start", () => {
  let dir: string;
  let child: ChildProcess;
  let output = "";
  let exited: Promise<number | null>;
  let readyMs = 0;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "upline-start-"));
    const nats = await startNats();
    let markReady: () => void = () => undefined;
    const ready = new Promise<void>((r) => {
      markReady = r;
    });
    const t0 = Date.now();
    child = spawn(process.execPath, [join(root, "scripts/start.ts")], {
      cwd: root,
      env: {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        NATS_URL: nats.url,
        UPLINE_NAMESPACE: uniqueNamespace(),
        UPLINE_DATA_DIR: dir,
        UPLINE_LOG_LEVEL: "warn",
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    exited = new Promise((r) => child.once("exit", (code) => r(code)));
    for (const s of [child.stdout, child.stderr])
      if (s)
        createInterface({ input: s }).on("line", (line) => {
          output += `${line}\n`;
          if (/upline\s+│ ready in/.test(line)) readyMs = Date.now() - t0;
          // The banner (where everything is, what to try) follows the ready line: wait for its end.
          if (/upline\s+│\s+Ctrl-C stops everything/.test(line)) markReady();
        });
    const failed = exited.then((code) => {
      throw new Error(`pnpm start exited (${code}) before it was ready:\n${output}`);
    });
    const latch = new Latch();
    void ready.then(() => latch.countDown());
    await Promise.race([latch.wait(90_000), failed]);
  });

  after(async () => {
    if (child.exitCode === null) child.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  });

  test("pnpm start - is ready, takes orders and the kill switch through the CLI, and stops with nothing left running", async () => {
    process.stderr.write(`pnpm start: ready after ${readyMs} ms\n`);
    assert.match(output, /NATS\s+nats:\/\//);
    assert.match(output, /exchange\s+upbit-sim/);
    assert.match(output, /order place --market KRW-BTC/);
    const runFile = join(dir, "run", "run.json");
    const run = JSON.parse(readFileSync(runFile, "utf8")) as {
      pids: Record<string, number>;
      env: Record<string, string>;
    };
    const operatorKey = JSON.parse(
      readFileSync(run.env.UPLINE_OPERATOR_KEY_FILE ?? "", "utf8"),
    ) as { d: string };
    assert.ok(!output.includes(operatorKey.d), "a private key was printed");
    const env = { UPLINE_RUN_FILE: runFile, UPLINE_ACTOR: "start-test" };
    const cli = async (...argv: string[]) => {
      const io = recordingIo(env);
      const code = await runCli(argv, io);
      return { code, out: io.stdout(), err: io.stderr() };
    };

    const status = await cli("status", "--json");
    assert.equal(status.code, 0, status.out + status.err);
    assert.equal(jsonLines<{ services: unknown[] }>(status.out)[0]?.services.length, 4);

    const placed = await cli(
      "order",
      "place",
      "--market",
      "KRW-BTC",
      "--side",
      "bid",
      "--price",
      "90000000",
      "--volume",
      "0.0001",
      "--json",
    );
    assert.equal(placed.code, 0, placed.out + placed.err);
    assert.equal(jsonLines<{ status: string }>(placed.out)[0]?.status, "accepted");

    assert.equal((await cli("trading", "halt", "--reason", "start test")).code, 0);
    const refused = await cli(
      "order",
      "place",
      "--market",
      "KRW-BTC",
      "--side",
      "bid",
      "--price",
      "90000000",
      "--volume",
      "0.0001",
    );
    assert.equal(refused.code, 1);
    assert.match(refused.err, /ORDER_TRADING_HALTED/);
    assert.equal((await cli("trading", "resume", "--reason", "start test over")).code, 0);

    const keys = await cli("keys", "list", "--json");
    assert.equal(keys.code, 0, keys.err);
    assert.equal(jsonLines<{ keys: { key_id: string }[] }>(keys.out)[0]?.keys[0]?.key_id, "main");

    child.kill("SIGINT");
    assert.equal(await exited, 0, output);
    for (const [name, pid] of Object.entries(run.pids))
      assert.equal(alive(pid), false, `${name} (pid ${pid}) survived`);
    assert.match(output, /stopped; audit log kept in/);

    const verify = await cli("audit", "verify", "--data-dir", join(dir, "audit"), "--json");
    assert.equal(verify.code, 0, verify.out + verify.err);
    assert.ok((jsonLines<{ rows: number }>(verify.out)[0]?.rows ?? 0) > 0);
  });
});
