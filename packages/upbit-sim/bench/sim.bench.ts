/**
 * upbit-sim benchmark. The simulator runs in a worker thread (its own core); the
 * clients run here.
 *   - WebSocket messages/s delivered to 1 and to 10 subscribers (trade + ticker +
 *     orderbook of one market, the market driven as fast as the sockets drain);
 *   - REST requests/s with p50/p99: GET ticker (public), GET accounts and POST
 *     orders (JWT HS256 signed per request), rate limits off.
 * Run: node scripts/bench.ts packages/upbit-sim/bench/sim.bench.ts
 */
import { createHash, createHmac, createSecretKey, randomBytes, randomUUID } from "node:crypto";
import { Agent, createServer, request } from "node:http";
import type { AddressInfo } from "node:net";
import { isMainThread, parentPort, Worker, workerData } from "node:worker_threads";
import { type BenchRow, emitBench, measureLatency } from "@upline/testkit";
import { WebSocket, WebSocketServer } from "ws";
import { canonicalBody, NonceStore, signJwt, verifyJwt } from "../src/auth.ts";
import { Exchange } from "../src/exchange.ts";
import { type Sim, type SimAccount, startSim } from "../src/index.ts";
import { restOrder } from "../src/views.ts";

const MARKET = "KRW-BTC";

interface StartMsg {
  cmd: "drive";
  ticks: number;
}

async function worker(): Promise<void> {
  const port = parentPort!;
  const acc = workerData as SimAccount;
  const sim: Sim = await startSim({
    seed: 1,
    markets: [MARKET],
    accounts: [acc],
    rateLimits: false,
    tradesPerTick: 20,
    tradeLogLimit: 10_000,
  });
  // Baselines measured in the same run: a bare node:http server answering `[]`, and a
  // bare ws server sending one pre-built 400-byte buffer with ws.send.
  const bare = createServer((_req, res) => {
    res.writeHead(200, { "Content-Type": "application/json" });
    res.end("[]");
  });
  const bareWs = new WebSocketServer({ server: bare, perMessageDeflate: false });
  await new Promise<void>((r) => bare.listen(0, "127.0.0.1", r));
  const bareUrl = `127.0.0.1:${(bare.address() as AddressInfo).port}`;
  port.postMessage({ restUrl: sim.restUrl, wsUrl: sim.wsUrl, bareUrl });
  port.on("message", async (msg: StartMsg | { cmd: "stop" } | { cmd: "bare"; count: number }) => {
    if (msg.cmd === "stop") {
      await sim.stop();
      bareWs.close();
      bare.close();
      bare.closeAllConnections();
      port.close();
      return;
    }
    if (msg.cmd === "bare") {
      const payload = Buffer.from(JSON.stringify({ type: "trade", pad: "x".repeat(360) }));
      let sent = 0;
      while (sent < msg.count) {
        let buffered = 0;
        for (const c of bareWs.clients) buffered += c.bufferedAmount;
        if (buffered < 4 * 1024 * 1024)
          for (let i = 0; i < 800 && sent < msg.count; i++, sent++)
            for (const c of bareWs.clients) c.send(payload, { binary: true });
        await new Promise((r) => setImmediate(r));
      }
      port.postMessage({ sent: sent * bareWs.clients.size });
      return;
    }
    const before = sim.admin.counters().wsMessagesSent;
    let done = 0;
    while (done < msg.ticks) {
      // Drive in slices; let the sockets drain when more than 4 MB are queued.
      if (sim.admin.counters().wsBufferedBytes > 4 * 1024 * 1024) {
        await new Promise((r) => setImmediate(r));
        continue;
      }
      const n = Math.min(20, msg.ticks - done);
      sim.admin.tick(n);
      done += n;
      await new Promise((r) => setImmediate(r));
    }
    port.postMessage({ sent: sim.admin.counters().wsMessagesSent - before });
  });
}

async function main(): Promise<void> {
  const acc: SimAccount = {
    accessKey: randomBytes(20).toString("hex"),
    secretKey: randomBytes(30).toString("base64"),
    balances: { KRW: "1000000000000", BTC: "1000" },
  };
  const w = new Worker(new URL(import.meta.url), { workerData: acc });
  const urls = await new Promise<{ restUrl: string; wsUrl: string; bareUrl: string }>((r) =>
    w.once("message", r),
  );
  const bareCount = (count: number) =>
    new Promise<number>((resolve) => {
      w.once("message", (m: { sent: number }) => resolve(m.sent));
      w.postMessage({ cmd: "bare", count });
    });
  const drive = (ticks: number) =>
    new Promise<number>((resolve) => {
      w.once("message", (m: { sent: number }) => resolve(m.sent));
      w.postMessage({ cmd: "drive", ticks });
    });

  const rows: BenchRow[] = [];
  {
    const ws = new WebSocket(`ws://${urls.bareUrl}`, { perMessageDeflate: false });
    await new Promise((r) => ws.once("open", r));
    let count = 0;
    ws.on("message", () => count++);
    await bareCount(2000);
    const from = count;
    const t0 = performance.now();
    const sent = await bareCount(400_000);
    while (count - from < sent) await new Promise((r) => setImmediate(r));
    rows.push({
      suite: "upbit-sim",
      kind: "baseline",
      name: "bare ws server, ws.send of one pre-built 400 B buffer, 1 subscriber",
      ops_per_s: Math.round(sent / ((performance.now() - t0) / 1000)),
      notes: "same machine, same run",
    });
    ws.terminate();
  }
  for (const subscribers of [1, 10]) {
    const clients = await Promise.all(
      Array.from({ length: subscribers }, async () => {
        const ws = new WebSocket(urls.wsUrl, { perMessageDeflate: false });
        await new Promise((r) => ws.once("open", r));
        const c = { ws, count: 0, bytes: 0 };
        ws.on("message", (data: Buffer) => {
          c.count++;
          c.bytes += data.length;
        });
        ws.send(
          JSON.stringify([
            { ticket: randomUUID() },
            { type: "trade", codes: [MARKET], is_only_realtime: true },
            { type: "ticker", codes: [MARKET], is_only_realtime: true },
            { type: "orderbook", codes: [MARKET], is_only_realtime: true },
            { format: "DEFAULT" },
          ]),
        );
        // A PING round trip proves the subscription is registered.
        await new Promise<void>((resolve) => {
          const onMsg = (d: Buffer) => {
            if (d.toString() === '{"status":"UP"}') {
              ws.off("message", onMsg);
              c.count--;
              resolve();
            }
          };
          ws.on("message", onMsg);
          ws.send("PING");
        });
        return c;
      }),
    );
    await drive(200); // warm-up
    const warm = clients.map((c) => c.count);
    const ticks = subscribers === 1 ? 20_000 : 4_000;
    const t0 = performance.now();
    const sent = await drive(ticks);
    const total = () => clients.reduce((s, c, i) => s + c.count - warm[i]!, 0);
    while (total() < sent) await new Promise((r) => setImmediate(r));
    const secs = (performance.now() - t0) / 1000;
    const bytes = clients.reduce((s, c) => s + c.bytes, 0);
    const avg = Math.round(bytes / clients.reduce((s, c) => s + c.count, 0));
    rows.push({
      suite: "upbit-sim",
      name: `ws messages delivered, ${subscribers} subscriber${subscribers > 1 ? "s" : ""} (total)`,
      ops_per_s: Math.round(sent / secs),
      notes: `${sent} msgs (trade+ticker+orderbook, 20 trades/tick, avg ${avg} B), per subscriber ${Math.round(sent / subscribers / secs)}/s`,
    });
    for (const c of clients) c.ws.terminate();
  }

  const agent = new Agent({ keepAlive: true, maxSockets: 32 });
  const url = new URL(urls.restUrl);
  const secret = createSecretKey(Buffer.from(acc.secretKey, "utf8"));
  const header = Buffer.from('{"alg":"HS256","typ":"JWT"}').toString("base64url");
  const jwt = (hashed: string | null) => {
    const payload: Record<string, string> = { access_key: acc.accessKey, nonce: randomUUID() };
    if (hashed !== null) {
      payload.query_hash = createHash("sha512").update(hashed).digest("hex");
      payload.query_hash_alg = "SHA512";
    }
    const input = `${header}.${Buffer.from(JSON.stringify(payload)).toString("base64url")}`;
    return `Bearer ${input}.${createHmac("sha256", secret).update(input).digest("base64url")}`;
  };
  const send = (method: string, path: string, headers: Record<string, string>, body?: string) =>
    new Promise<void>((resolve, reject) => {
      const req = request(
        { host: url.hostname, port: url.port, method, path, agent, headers },
        (res) => {
          if (res.statusCode !== 200 && res.statusCode !== 201)
            reject(new Error(`HTTP ${res.statusCode}`));
          res.resume();
          res.on("end", resolve);
        },
      );
      req.on("error", reject);
      req.end(body);
    });
  const bareUrl = new URL(`http://${urls.bareUrl}`);
  const bareGet = () =>
    new Promise<void>((resolve, reject) => {
      const req = request(
        { host: bareUrl.hostname, port: bareUrl.port, path: "/", agent },
        (res) => {
          res.resume();
          res.on("end", resolve);
        },
      );
      req.on("error", reject);
      req.end();
    });
  for (const concurrency of [1, 16]) {
    const r = await measureLatency(bareGet, {
      total: concurrency === 1 ? 5_000 : 20_000,
      concurrency,
      warmup: 500,
    });
    rows.push({
      suite: "upbit-sim",
      kind: "baseline",
      name: `bare node:http GET, ${concurrency} in flight`,
      ...r,
      notes: "same client, same run",
    });
  }
  const cases: [string, () => Promise<void>][] = [
    ["GET /v1/ticker (public)", () => send("GET", `/v1/ticker?markets=${MARKET}`, {})],
    ["GET /v1/accounts (JWT)", () => send("GET", "/v1/accounts", { Authorization: jwt(null) })],
    [
      "POST /v1/orders (JWT, resting limit)",
      () => {
        const body = {
          market: MARKET,
          side: "bid",
          ord_type: "limit",
          price: "50000000",
          volume: "0.0001",
        };
        const hashed = "market=KRW-BTC&side=bid&ord_type=limit&price=50000000&volume=0.0001";
        return send(
          "POST",
          "/v1/orders",
          { Authorization: jwt(hashed), "Content-Type": "application/json" },
          JSON.stringify(body),
        );
      },
    ],
  ];
  for (const [name, op] of cases) {
    for (const concurrency of [1, 16]) {
      const r = await measureLatency(op, {
        total: concurrency === 1 ? 5_000 : 20_000,
        concurrency,
        warmup: 500,
      });
      rows.push({
        suite: "upbit-sim",
        name: `${name}, ${concurrency} in flight`,
        ...r,
        notes: "rate limits off; node:http keep-alive client",
      });
    }
  }
  rows.push(inProcessOrders());
  agent.destroy();
  w.postMessage({ cmd: "stop" });
  await new Promise((r) => w.once("exit", r));
  emitBench(rows);
}

/** The server's own work per POST order, without sockets or an HTTP client: what the simulator can sustain on one core. */
function inProcessOrders(): BenchRow {
  const acc = {
    accessKey: "bench",
    secretKey: randomBytes(30).toString("base64"),
    balances: { KRW: "1000000000000" },
  };
  const ex = new Exchange({
    seed: 1,
    markets: [MARKET],
    accounts: [acc],
    now: Date.now,
    tradeLogLimit: 1000,
    tradesPerTick: undefined,
  });
  const rec = ex.accounts.get(acc.accessKey)!;
  const nonces = new NonceStore(600_000, Date.now());
  const key = createSecretKey(Buffer.from(acc.secretKey, "utf8"));
  const raw = JSON.stringify({
    market: MARKET,
    side: "bid",
    ord_type: "limit",
    price: "50000000",
    volume: "0.0001",
  });
  const n = 20_000;
  const tokens = Array.from(
    { length: n },
    () => `Bearer ${signJwt(acc.accessKey, key, canonicalBody(JSON.parse(raw)), "HS256")}`,
  );
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    const body = JSON.parse(raw) as Record<string, unknown>;
    const auth = verifyJwt(
      {
        authorization: tokens[i],
        clientIp: "127.0.0.1",
        canonical: canonicalBody(body),
        scope: "make_orders",
        now: Date.now(),
      },
      (k) => (k === acc.accessKey ? rec.key : undefined),
      nonces,
    );
    if (!auth.ok) throw new Error(auth.error);
    const v = ex.validate(rec, body, false);
    if ("status" in v) throw new Error(v.name);
    JSON.stringify(restOrder(ex.place(rec, v).snapshot, false));
  }
  const secs = (performance.now() - t0) / 1000;
  return {
    suite: "upbit-sim",
    name: "POST /v1/orders server work in-process (JWT verify + validate + place + JSON), no sockets",
    ops_per_s: Math.round(n / secs),
    notes: `${((secs / n) * 1e6).toFixed(1)} µs per order on one core`,
  };
}

if (isMainThread) await main();
else await worker();
