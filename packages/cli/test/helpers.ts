/** Test helpers: an in-memory CliIo that records what a command printed. */
import type { CliIo } from "../src/index.ts";

export interface RecordingIo extends CliIo {
  readonly stdout: () => string;
  readonly stderr: () => string;
  readonly abort: () => void;
}

export function recordingIo(env: Record<string, string | undefined> = {}): RecordingIo {
  let out = "";
  let err = "";
  const ac = new AbortController();
  return {
    out: (t) => {
      out += t;
    },
    err: (t) => {
      err += t;
    },
    // No run file from a developer's `pnpm start` leaks into tests.
    env: { UPLINE_RUN_FILE: "/nonexistent/run.json", ...env },
    signal: ac.signal,
    stdout: () => out,
    stderr: () => err,
    abort: () => ac.abort(),
  };
}

/** JSON lines printed by a --json command. */
export function jsonLines<T = Record<string, unknown>>(text: string): T[] {
  return text
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => JSON.parse(l) as T);
}
