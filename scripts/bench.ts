/**
 * Runs every benchmark (packages/*\/bench/*.bench.ts, services/*\/bench/*.bench.ts,
 * or the files given), one process each and one after another so they do not
 * compete for the two cores, then prints one table and writes
 * bench/results/latest.json and a time-stamped copy.
 */
import { spawn } from "node:child_process";
import { globSync, mkdirSync, writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { BENCH_MARKER, type BenchRow } from "@upline/testkit";

const root = resolve(import.meta.dirname, "..");
const explicit = process.argv.slice(2).filter((a) => !a.startsWith("--"));
const files =
  explicit.length > 0
    ? explicit
    : globSync(["packages/*/bench/*.bench.ts", "services/*/bench/*.bench.ts"], {
        cwd: root,
      }).sort();

const rows: (BenchRow & { file: string })[] = [];
let failed = 0;
for (const file of files) {
  process.stderr.write(`bench: ${file}\n`);
  const code = await new Promise<number>((done) => {
    const child = spawn(process.execPath, [file], {
      cwd: root,
      stdio: ["ignore", "pipe", "inherit"],
    });
    let buffered = "";
    child.stdout.on("data", (chunk: Buffer) => {
      buffered += chunk.toString();
      let nl = buffered.indexOf("\n");
      while (nl >= 0) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        if (line.startsWith(BENCH_MARKER))
          rows.push({ file, ...(JSON.parse(line.slice(BENCH_MARKER.length)) as BenchRow) });
        else process.stdout.write(`${line}\n`);
        nl = buffered.indexOf("\n");
      }
    });
    child.on("exit", (c) => done(c ?? 1));
  });
  if (code !== 0) {
    failed += 1;
    process.stderr.write(`bench: ${file} failed with exit code ${code}\n`);
  }
}

const fmt = (n: number | undefined) => (n === undefined ? "" : n.toLocaleString("en-US"));
const header = ["suite", "kind", "what", "ops/s", "p50 µs", "p99 µs", "RSS MB", "CPU %", "notes"];
const table = rows.map((r) => [
  r.suite,
  r.kind ?? "ours",
  r.name,
  fmt(r.ops_per_s),
  fmt(r.p50_us),
  fmt(r.p99_us),
  fmt(r.rss_mb),
  fmt(r.cpu_pct),
  r.notes ?? "",
]);
const widths = header.map((h, i) =>
  Math.max(h.length, ...table.map((row) => (row[i] ?? "").length)),
);
const line = (cells: string[]) =>
  `| ${cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join(" | ")} |`;
process.stdout.write(`\n${line(header)}\n${line(widths.map((w) => "-".repeat(w)))}\n`);
for (const row of table) process.stdout.write(`${line(row)}\n`);

const result = { at: new Date().toISOString(), node: process.version, rows };
mkdirSync(resolve(root, "bench/results"), { recursive: true });
writeFileSync(resolve(root, "bench/results/latest.json"), `${JSON.stringify(result, null, 2)}\n`);
writeFileSync(
  resolve(root, `bench/results/${result.at.replace(/[:.]/g, "-")}.json`),
  `${JSON.stringify(result, null, 2)}\n`,
);
process.stdout.write(`\n${JSON.stringify(result)}\n`);
process.exitCode = failed > 0 ? 1 : 0;
