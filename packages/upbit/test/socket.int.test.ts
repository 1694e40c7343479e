import assert from "node:assert/strict";
import type { IncomingMessage } from "node:http";
import { after, test } from "node:test";
import { eventually, Latch } from "@upline/testkit";
import { type WebSocket, WebSocketServer } from "ws";
import {
  createConnectLimiter,
  createQuotationClient,
  createUpbitSocket,
  type SocketEvent,
  type UpbitSocket,
} from "../src/index.ts";

const cleanups: (() => Promise<unknown>)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => {});
});

interface Server {
  readonly url: string;
  readonly conns: { ws: WebSocket; req: IncomingMessage; received: string[] }[];
}

async function server(onConn?: (ws: WebSocket, received: string[]) => void): Promise<Server> {
  const wss = new WebSocketServer({ port: 0, host: "127.0.0.1" });
  await new Promise((r) => wss.once("listening", r));
  cleanups.push(() => new Promise((r) => wss.close(r)));
  const conns: Server["conns"] = [];
  wss.on("connection", (ws, req) => {
    const received: string[] = [];
    conns.push({ ws, req, received });
    ws.on("message", (d) => {
      const text = d.toString();
      received.push(text);
      if (text === "PING") ws.send(Buffer.from('{"status":"UP"}'), { binary: true });
    });
    onConn?.(ws, received);
  });
  return { url: `ws://127.0.0.1:${(wss.address() as { port: number }).port}`, conns };
}

function track(s: UpbitSocket): UpbitSocket {
  cleanups.push(() => s.close());
  return s;
}

test("socket - sends fresh headers and the subscription on every connect, and re-subscribes after a drop", async () => {
  const srv = await server();
  let token = 0;
  const frames: string[] = [];
  const s = track(
    createUpbitSocket({
      url: srv.url,
      headers: () => ({ authorization: `Bearer t${++token}` }),
      subscribe: () => ['[{"ticket":"x"},{"type":"trade","codes":["KRW-BTC"]}]'],
      onFrame: (d) => frames.push(d.toString()),
      backoff: { initialMs: 10, maxMs: 50 },
      connectLimiter: createConnectLimiter({ perSecond: 50 }),
    }),
  );
  s.start();
  await eventually(() => srv.conns[0]?.received.length === 1);
  srv.conns[0]?.ws.send(Buffer.from('{"ty":"trade"}'), { binary: true });
  await eventually(() => frames.length === 1);
  srv.conns[0]?.ws.terminate();
  await eventually(() => srv.conns[1]?.received.length === 1, { message: "re-subscribed" });
  assert.equal(srv.conns[0]?.req.headers.authorization, "Bearer t1");
  assert.equal(srv.conns[1]?.req.headers.authorization, "Bearer t2");
  assert.equal(s.stats().connects, 2);
});

test("socket - keeps alive with ping frames and a text PING, and heartbeats are not data", async () => {
  const srv = await server();
  let pings = 0;
  const frames: Buffer[] = [];
  const s = track(
    createUpbitSocket({
      url: srv.url,
      onFrame: (d) => frames.push(d),
      pingIntervalMs: 30,
      textPingIntervalMs: 40,
      stallMs: 0,
    }),
  );
  s.start();
  await eventually(() => srv.conns.length === 1);
  srv.conns[0]?.ws.on("ping", () => pings++);
  await eventually(() => pings >= 2 && (srv.conns[0]?.received.includes("PING") ?? false));
  await eventually(() => s.stats().heartbeats >= 1);
  assert.equal(frames.length, 0, "{status: UP} is a heartbeat, not a frame");
  assert.equal(s.stats().connects, 1, "pongs kept the connection");
});

test("socket - a connection that delivers no data for stallMs is dropped and reconnected", async () => {
  const srv = await server((ws) => ws.send(Buffer.from('{"ty":"ticker"}'), { binary: true }));
  const events: SocketEvent[] = [];
  const s = track(
    createUpbitSocket({
      url: srv.url,
      onFrame: () => {},
      onEvent: (e) => events.push(e),
      stallMs: 100,
      backoff: { initialMs: 10, maxMs: 20 },
      connectLimiter: createConnectLimiter({ perSecond: 50 }),
    }),
  );
  s.start();
  await eventually(() => s.stats().stalls >= 1 && s.stats().connects >= 2);
  const down = events.find((e) => e.type === "down");
  assert.equal(down?.type === "down" && down.reason, "stalled");
});

test("socket - pause() stops reading without stalling or missing pongs; resume() delivers what waited, in order", async () => {
  const srv = await server();
  // Fake clock for the watchdog and ping timers: time is advanced by the test.
  let clock = 1_000_000;
  const due = new Map<number, { at: number; fn: () => void }>();
  let nextId = 0;
  const timers = {
    now: () => clock,
    setTimeout: (fn: () => void, ms: number) => {
      due.set(++nextId, { at: clock + ms, fn });
      return nextId;
    },
    clearTimeout: (h: unknown) => {
      due.delete(h as number);
    },
  };
  const advance = (ms: number) => {
    for (let step = 0; step < ms; step += 10) {
      clock += 10;
      for (const [id, t] of [...due]) {
        if (t.at > clock || !due.has(id)) continue;
        due.delete(id);
        t.fn();
      }
    }
  };
  const frames: string[] = [];
  const s = track(
    createUpbitSocket({
      url: srv.url,
      onFrame: (d) => frames.push(d.toString()),
      stallMs: 300,
      pingIntervalMs: 100,
      textPingIntervalMs: 0,
      timers,
      connectLimiter: createConnectLimiter({ perSecond: 50 }),
    }),
  );
  s.start();
  await eventually(() => s.state() === "open" && srv.conns.length === 1);
  const peer = srv.conns[0]?.ws as WebSocket;
  peer.send(Buffer.from('{"n":0}'), { binary: true });
  await eventually(() => frames.length === 1);

  s.pause();
  const written = new Latch();
  for (let i = 1; i <= 200; i++)
    peer.send(
      Buffer.from(`{"n":${i}}`),
      { binary: true },
      i === 200 ? () => written.countDown() : undefined,
    );
  await written.wait();
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
  // Far beyond stallMs and several ping intervals: no stall, no pong-missing drop.
  advance(2_000);
  assert.equal(s.state(), "open");
  assert.equal(s.stats().stalls, 0);
  assert.equal(s.stats().downs, 0);
  assert.equal(frames.length, 1, "nothing read while paused");

  s.resume();
  await eventually(() => frames.length === 201);
  assert.deepEqual(
    frames.map((f) => JSON.parse(f).n),
    Array.from({ length: 201 }, (_, i) => i),
  );
  // Resumed: the liveness checks count again (the fake clock outruns the real
  // pong, so the pong check or the stall watchdog drops the connection).
  advance(1_000);
  await eventually(() => s.stats().downs >= 1);
});

test("socket - reconnect attempts respect the shared connect limit", async () => {
  const srv = await server((ws) => ws.terminate());
  const limiter = createConnectLimiter({ perSecond: 3 });
  const opened = new Latch(6);
  const started = Date.now();
  const sockets = [0, 1].map(() =>
    track(
      createUpbitSocket({
        url: srv.url,
        onFrame: () => {},
        onEvent: (e) => {
          if (e.type === "open") opened.countDown();
        },
        backoff: { initialMs: 1, maxMs: 1 },
        connectLimiter: limiter,
      }),
    ),
  );
  for (const s of sockets) s.start();
  await opened.wait(5_000);
  // Six connects at three per second need more than one second.
  assert.ok(Date.now() - started >= 1000, `six connects took ${Date.now() - started} ms`);
});

test("socket - close() stops reconnecting and is safe to call twice", async () => {
  const srv = await server();
  const s = createUpbitSocket({ url: srv.url, onFrame: () => {} });
  s.start();
  await eventually(() => s.state() === "open");
  const a = s.close();
  assert.equal(s.close(), a);
  await a;
  assert.equal(s.state(), "closed");
  assert.equal(s.send("x"), false);
});

test("quotation - refuses an unknown host quickly with a typed error", async () => {
  const q = createQuotationClient({ baseUrl: "http://127.0.0.1:1", maxRetries: 0 });
  cleanups.push(() => q.close());
  await assert.rejects(q.markets(), { code: "UPBIT_QUOTATION_FAILED" });
});
