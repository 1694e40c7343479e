/**
 * The simulator for feed.bench.ts, in its own process so that the benchmark's
 * CPU figure is the feed's alone. Commands arrive over IPC:
 *   {cmd:"burst", ticks}            drive as fast as the sockets drain
 *   {cmd:"rate", tradesPerS, ms}    drive at an offered trade rate
 *   {cmd:"stop"}
 * Each answers {sent, last: {market: sequential_id}}.
 */
import { startSim } from "@upline/upbit-sim";

const markets = (process.env.BENCH_MARKETS ?? "KRW-BTC,KRW-ETH").split(",");
const perTick = Number(process.env.BENCH_TRADES_PER_TICK ?? 20);
const sim = await startSim({
  port: 0,
  seed: 1,
  markets,
  rateLimits: false,
  tradesPerTick: perTick,
  tradeLogLimit: 20_000,
});
const send = (m: unknown) => process.send?.(m);
const yieldLoop = () => new Promise((r) => setImmediate(r));
const pause = () => new Promise((r) => setTimeout(r, 1));
const last = () =>
  Object.fromEntries(
    markets.map((m) => {
      const log = sim.admin.trades(m);
      return [m, String(log[log.length - 1]?.sequentialId ?? "")];
    }),
  );

send({ wsUrl: sim.wsUrl, restUrl: sim.restUrl });

process.on(
  "message",
  async (msg: { cmd: string; ticks?: number; tradesPerS?: number; ms?: number }) => {
    const before = sim.admin.counters().wsMessagesSent;
    const started = performance.now();
    if (msg.cmd === "stop") {
      await sim.stop();
      process.disconnect?.();
      return;
    }
    if (msg.cmd === "burst") {
      const total = msg.ticks ?? 0;
      let done = 0;
      while (done < total) {
        if (sim.admin.counters().wsBufferedBytes > 4 * 1024 * 1024) {
          // Backpressure: wait on a timer. Spinning on setImmediate here took a
          // whole core from the feed and NATS (2 cores) for as long as the feed
          // was behind — most of the feed's old "not CPU-bound" gap.
          await pause();
          continue;
        }
        const n = Math.min(10, total - done);
        sim.admin.tick(n);
        done += n;
        await yieldLoop();
      }
    } else if (msg.cmd === "rate") {
      // Ticks spread evenly: one tick carries perTick trades per market.
      const ticksPerS = (msg.tradesPerS ?? 5000) / (perTick * markets.length);
      const start = performance.now();
      let done = 0;
      for (;;) {
        const elapsed = performance.now() - start;
        if (elapsed >= (msg.ms ?? 5000)) break;
        const due = Math.floor((elapsed / 1000) * ticksPerS);
        while (done < due) {
          sim.admin.tick(1);
          done++;
        }
        await new Promise((r) => setTimeout(r, 1));
      }
    }
    send({
      sent: sim.admin.counters().wsMessagesSent - before,
      last: last(),
      ms: Math.round(performance.now() - started),
    });
  },
);
