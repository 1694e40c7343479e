/**
 * The Dockerfile: one image per service, built against NODE_IMAGE without pulling;
 * each runs as a non-root user on a read-only root file system with all capabilities
 * dropped, carries a HEALTHCHECK, and holds only production dependencies.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { eventually } from "@upline/testkit";
import { buildService, cli, describeFailure, imageTag, SERVICES } from "./engine.ts";

/** The flags docker-compose.yml and the Kubernetes securityContext apply. */
const LOCKED_DOWN = [
  "--read-only",
  "--tmpfs",
  "/tmp",
  "--cap-drop",
  "ALL",
  "--security-opt",
  "no-new-privileges",
];

interface ImageConfig {
  User: string;
  Cmd: string[];
  WorkingDir: string;
  Healthcheck?: { Test: string[] };
}

async function config(image: string): Promise<ImageConfig> {
  const r = await cli(["image", "inspect", "--format", "{{json .Config}}", image]);
  assert.equal(r.code, 0, describeFailure("image inspect", r));
  // Asked for on its own: podman leaves the (Docker-format) health check out of `.Config`.
  const h = await cli(["image", "inspect", "--format", "{{json .Config.Healthcheck}}", image]);
  return {
    ...(JSON.parse(r.stdout) as ImageConfig),
    Healthcheck: JSON.parse(h.stdout) as ImageConfig["Healthcheck"],
  };
}

// Sequential: every build after the first reuses the shared stages from the cache.
describe("images", { concurrency: 1 }, () => {
  for (const service of SERVICES) {
    test(`image - ${service} builds, runs as non-root on a read-only root file system`, async () => {
      const built = await buildService(service);
      assert.equal(built.code, 0, describeFailure(`build of ${service}`, built));
      const image = imageTag(service);

      const c = await config(image);
      assert.equal(c.User, "1000:1000");
      assert.deepEqual(c.Cmd, ["node", "src/main.ts"]);
      assert.deepEqual(c.Healthcheck?.Test, ["CMD", "node", "/app/healthcheck.mjs"]);

      const listing = await cli([
        "run",
        "--rm",
        "--entrypoint",
        "sh",
        image,
        "-c",
        "id -u; ls /app/node_modules/.pnpm; ls -d /app/*/*/test /app/*/*/bench 2>/dev/null; true",
      ]);
      assert.equal(listing.code, 0, describeFailure("listing", listing));
      const [uid, ...entries] = listing.stdout.trim().split("\n");
      assert.equal(uid, "1000");
      for (const dev of ["typescript", "@biomejs", "testcontainers", "ccxt", "@upline+testkit"]) {
        assert.ok(!entries.some((e) => e.startsWith(dev)), `${dev} is not in the ${service} image`);
      }
      assert.ok(!entries.some((e) => e.endsWith("/test") || e.endsWith("/bench")), "no tests");

      if (service === "upbit-sim") {
        const started = await cli([
          "run",
          "-d",
          ...LOCKED_DOWN,
          "-e",
          "UPBIT_SIM_HOST=0.0.0.0",
          image,
        ]);
        assert.equal(started.code, 0, describeFailure("run upbit-sim", started));
        const id = started.stdout.trim();
        try {
          // The image's own health check command answers once the simulator serves.
          await eventually(
            async () => {
              const h = await cli(["exec", id, "node", "/app/healthcheck.mjs"]);
              return h.code === 0;
            },
            { timeoutMs: 60_000, intervalMs: 250, message: "upbit-sim became healthy" },
          );
        } finally {
          await cli(["rm", "-f", "-t", "0", id]);
        }
      } else {
        // Every module resolves and the config schema runs: a bad variable is named.
        const r = await cli(["run", "--rm", ...LOCKED_DOWN, "-e", "LOG_LEVEL=loud", image], {
          timeoutMs: 60_000,
        });
        assert.equal(r.code, 1, describeFailure(`run ${service}`, r));
        assert.match(r.stderr, new RegExp(`${service}: cannot start: CONFIG_INVALID`));
        assert.match(r.stderr, /LOG_LEVEL/);
      }
    });
  }
});
