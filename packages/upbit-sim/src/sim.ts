/** startSim: wires the exchange, the HTTP server (REST + admin) and the WebSocket hub. */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { setTimeout as delay } from "node:timers/promises";
import {
  AUTH_MESSAGES,
  type AuthError,
  canonicalBody,
  canonicalQuery,
  NonceStore,
  normalizeIp,
  verifyJwt,
} from "./auth.ts";
import { SimConfigError } from "./errors.ts";
import { type ApiError, Exchange } from "./exchange.ts";
import { Params } from "./params.ts";
import { RateLimiter } from "./ratelimit.ts";
import { createRng } from "./rng.ts";
import { findRoute, type Route } from "./routes.ts";
import type { Sim, SimAdmin, SimCounters, SimFaults, SimOptions, SimOrderView } from "./types.ts";
import { WsHub } from "./ws.ts";

export const DEFAULT_MARKETS = ["KRW-BTC", "KRW-ETH", "KRW-XRP", "BTC-ETH", "USDT-BTC"] as const;

const JSON_TYPE = "application/json; charset=utf-8";

/** Starts a simulated Upbit on `host:port` (127.0.0.1:0 by default). */
export async function startSim(options: SimOptions = {}): Promise<Sim> {
  const now = options.now ?? Date.now;
  const seed = options.seed ?? 1;
  const markets = options.markets ?? DEFAULT_MARKETS;
  const accounts = options.accounts ?? [];
  checkOptions(
    options,
    accounts.map((a) => a.accessKey),
  );
  const ex = new Exchange({
    seed,
    markets,
    accounts,
    now,
    tradeLogLimit: options.tradeLogLimit ?? 200_000,
    tradesPerTick: options.tradesPerTick,
  });
  const limiter = new RateLimiter(options.rateLimits);
  const nonces = new NonceStore(10 * 60_000, now());
  let faults: SimFaults = { ...(options.faults ?? {}) };
  const applyOffline = () => {
    ex.offline.clear();
    for (const m of faults.marketsOffline ?? []) ex.offline.add(m);
  };
  applyOffline();
  let faultRng = createRng(`${seed}/faults`);
  const counters = {
    requests: {} as Record<string, number>,
    sent429: 0,
    sent418: 0,
    sent5xx: 0,
    droppedResponses: 0,
  };
  const lookup = (k: string) => ex.accounts.get(k)?.key;
  const hub = new WsHub({
    ex,
    limiter,
    lookup,
    nonces,
    now,
    idleMs: options.wsIdleMs ?? 120_000,
    faults: () => faults,
    limitsOn: limiter.enabled,
  });
  ex.listener = {
    trade: (m, t) => hub.onTrade(m, t),
    orderbook: (m) => hub.onOrderbook(m),
    myOrder: (o, f) => hub.onMyOrder(o, f),
    myAsset: (k, c) => hub.onMyAsset(k, c),
  };

  const admin: SimAdmin = {
    tick(n = 1) {
      for (let i = 0; i < n; i++) ex.tick();
    },
    reset() {
      ex.reset();
      limiter.reset();
      nonces.clear();
      faultRng = createRng(`${seed}/faults`);
      counters.requests = {};
      counters.sent429 = counters.sent418 = counters.sent5xx = counters.droppedResponses = 0;
      hub.messagesSent = 0;
    },
    setBalance: (k, c, v) => ex.setBalance(k, c, v),
    setPrice: (m, p) => ex.setPrice(m, p),
    orders(accessKey) {
      const out: SimOrderView[] = [];
      for (const o of ex.orders.values())
        if (accessKey === undefined || o.accessKey === accessKey)
          out.push({
            uuid: o.uuid,
            accessKey: o.accessKey,
            identifier: o.identifier,
            market: o.market,
            side: o.side,
            ordType: o.ordType,
            state: o.state,
            price: o.price,
            volume: o.volume,
            executedVolume: o.executedVolume,
            createdAt: o.createdAt,
          });
      return out;
    },
    fills: (k) => ex.fills.filter((f) => k === undefined || f.accessKey === k),
    trades(market) {
      const m = ex.markets.get(market);
      if (m === undefined)
        throw new SimConfigError("SIM_UNKNOWN_MARKET", `unknown market ${market}`);
      return [...m.trades];
    },
    counters(): SimCounters {
      return {
        requests: { ...counters.requests },
        sent429: counters.sent429,
        sent418: counters.sent418,
        sent5xx: counters.sent5xx,
        droppedResponses: counters.droppedResponses,
        wsConnections: hub.connections,
        wsMessagesSent: hub.messagesSent,
        wsBufferedBytes: hub.bufferedBytes(),
      };
    },
    setFaults(f) {
      faults = { ...faults, ...f };
      applyOffline();
    },
    clearFaults() {
      faults = {};
      applyOffline();
    },
    faults: () => ({ ...faults }),
    disconnectWebSockets: () => hub.disconnectAll(),
  };

  const send = (
    res: ServerResponse,
    status: number,
    body: unknown,
    remaining: string | null,
    extra?: Record<string, string>,
  ) => {
    const headers: Record<string, string> = { "Content-Type": JSON_TYPE };
    if (remaining !== null) headers["Remaining-Req"] = remaining;
    if (extra !== undefined) Object.assign(headers, extra);
    res.writeHead(status, headers);
    res.end(typeof body === "string" ? body : JSON.stringify(body));
  };

  const faultApplies = (routeKey: string) =>
    faults.routes === undefined || faults.routes.includes(routeKey);

  async function handle(req: IncomingMessage, res: ServerResponse, raw: Buffer): Promise<void> {
    const url = req.url ?? "/";
    const qi = url.indexOf("?");
    const path = qi < 0 ? url : url.slice(0, qi);
    const rawQuery = qi < 0 ? "" : url.slice(qi + 1);
    const method = req.method ?? "GET";
    const ip = normalizeIp(req.socket.remoteAddress ?? "");
    if (path === "/_admin" || path.startsWith("/_admin/")) {
      if (options.admin !== true)
        return send(res, 404, { error: { name: "not_found", message: "Not Found" } }, null);
      return adminHttp(admin, method, path, rawQuery, raw, res);
    }
    const route = findRoute(method, path);
    if (route === undefined)
      return send(res, 404, { error: { name: 404, message: "Not Found" } }, null);
    const routeKey = path.startsWith("/v1/candles/") ? `GET ${path}` : `${method} ${path}`;
    const group = route.group;
    counters.requests[group] = (counters.requests[group] ?? 0) + 1;
    const applies = faultApplies(routeKey);
    if (applies && (faults.latencyMs ?? 0) > 0) await delay(faults.latencyMs);
    const t = now();
    if (applies && (faults.errorRate ?? 0) > 0 && faultRng.next() < faults.errorRate!) {
      counters.sent5xx++;
      return send(
        res,
        500,
        { error: { name: "internal_server_error", message: "Internal Server Error" } },
        limiter.header(group, limiter.peek(`ip:${ip}`, group, t)),
      );
    }
    if (applies && faults.rateLimitStorm === true) {
      counters.sent429++;
      res.writeHead(429, {
        "Content-Type": "text/plain; charset=utf-8",
        "Remaining-Req": limiter.header(group, 0),
      });
      res.end("Too many API requests.");
      return;
    }
    let params: Params;
    try {
      params = Params.parse(rawQuery);
    } catch {
      const name = route.kind === "public" ? 400 : "invalid_parameter";
      return send(
        res,
        400,
        { error: { name, message: "Invalid parameter. Check the given value!" } },
        limiter.header(group, limiter.peek(`ip:${ip}`, group, t)),
      );
    }
    if (route.kind === "public") {
      const d = limiter.take(`ip:${ip}`, group, t);
      if (d.kind !== "ok") return refuse(res, group, d.kind === "banned" ? d.untilMs - t : null);
      const r = route.handle(ex, params, path);
      const header = limiter.header(group, d.remaining);
      return "error" in r
        ? send(res, r.status, { error: r.error }, header)
        : send(res, r.status, r.body, header);
    }
    return handlePrivate(req, res, route, routeKey, method, rawQuery, params, raw, ip, t);
  }

  async function handlePrivate(
    req: IncomingMessage,
    res: ServerResponse,
    route: Extract<Route, { kind: "private" }>,
    routeKey: string,
    method: string,
    rawQuery: string,
    params: Params,
    raw: Buffer,
    ip: string,
    t: number,
  ): Promise<void> {
    const group = route.group;
    const peekHeader = () => limiter.header(group, limiter.peek(`ip:${ip}`, group, t));
    let body: Record<string, unknown> | null = null;
    if (raw.length > 0) {
      if (route.queryOnly === true)
        return send(
          res,
          400,
          { error: { name: "QUERY_PARAMETER_NOT_SUPPORTED", message: "Query parameters only." } },
          peekHeader(),
        );
      try {
        const v: unknown = JSON.parse(raw.toString("utf8"));
        if (typeof v !== "object" || v === null || Array.isArray(v))
          throw new TypeError("not an object");
        body = v as Record<string, unknown>;
      } catch {
        return send(
          res,
          400,
          { error: { name: "invalid_parameter", message: "잘못된 파라미터" } },
          peekHeader(),
        );
      }
    }
    if (method === "POST") {
      if (body === null) body = {};
      params = Params.fromBody(body);
    }
    let canonical: string;
    try {
      canonical = method === "POST" ? canonicalBody(body!) : canonicalQuery(rawQuery);
    } catch {
      return send(
        res,
        400,
        { error: { name: "invalid_parameter", message: "잘못된 파라미터" } },
        peekHeader(),
      );
    }
    const auth = verifyJwt(
      {
        authorization: req.headers.authorization,
        clientIp: ip,
        canonical,
        scope: route.scope,
        now: t,
      },
      lookup,
      nonces,
    );
    if (!auth.ok) {
      const e: AuthError = auth.error;
      return send(res, 401, { error: { name: e, message: AUTH_MESSAGES[e] } }, peekHeader());
    }
    const acc = ex.accounts.get(auth.key.accessKey)!;
    const d = limiter.take(`pocket:${acc.pocket}`, group, t);
    if (d.kind !== "ok") return refuse(res, group, d.kind === "banned" ? d.untilMs - t : null);
    const r = route.handle({ ex, acc, params, body });
    const applies = faultApplies(routeKey);
    if (route.creates === true && applies && (faults.dropOrderResponses ?? 0) > 0) {
      faults = { ...faults, dropOrderResponses: faults.dropOrderResponses! - 1 };
      counters.droppedResponses++;
      req.socket.destroy();
      return;
    }
    if (applies && (faults.slowResponseMs ?? 0) > 0) await delay(faults.slowResponseMs);
    const header = limiter.header(group, d.remaining);
    if (isApiError(r))
      return send(res, r.status, { error: { name: r.name, message: r.message } }, header);
    return send(res, r.status, r.body, header);
  }

  function refuse(res: ServerResponse, group: string, banMs: number | null): void {
    if (banMs === null) {
      counters.sent429++;
      res.writeHead(429, {
        "Content-Type": "text/plain; charset=utf-8",
        "Remaining-Req": limiter.header(group, 0),
      });
      res.end("Too many API requests.");
      return;
    }
    counters.sent418++;
    const seconds = Math.max(1, Math.ceil(banMs / 1000));
    res.writeHead(418, {
      "Content-Type": JSON_TYPE,
      "Remaining-Req": limiter.header(group, 0),
      "Retry-After": String(seconds),
    });
    res.end(
      JSON.stringify({
        error: { name: 418, message: `Too many API requests. Blocked for ${seconds} seconds.` },
      }),
    );
  }

  const server = createServer({ keepAliveTimeout: 10_000 }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const raw =
        chunks.length === 0 ? EMPTY : chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
      handle(req, res, raw).catch((err: unknown) => {
        counters.sent5xx++;
        if (!res.headersSent)
          send(res, 500, { error: { name: "internal_server_error", message: String(err) } }, null);
        else res.destroy();
      });
    });
  });
  server.on("upgrade", (req, socket, head) => {
    const path = (req.url ?? "").split("?")[0];
    const ip = normalizeIp(req.socket.remoteAddress ?? "");
    if (path === "/websocket/v1" || path === "/websocket/v1/private")
      hub.upgrade(req, socket, head, path === "/websocket/v1/private", ip);
    else socket.end("HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
  });
  const host = options.host ?? "127.0.0.1";
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const hostInUrl = host.includes(":") ? `[${host}]` : host;
  const base = `${hostInUrl}:${port}`;
  const timer =
    (options.tickIntervalMs ?? 0) > 0
      ? setInterval(() => ex.tick(), options.tickIntervalMs)
      : undefined;
  let stopping: Promise<void> | undefined;
  return {
    restUrl: `http://${base}`,
    wsUrl: `ws://${base}/websocket/v1`,
    privateWsUrl: `ws://${base}/websocket/v1/private`,
    adminUrl: options.admin === true ? `http://${base}/_admin` : undefined,
    port,
    admin,
    stop() {
      stopping ??= new Promise<void>((resolve) => {
        if (timer !== undefined) clearInterval(timer);
        hub.close();
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return stopping;
    },
  };
}

const EMPTY = Buffer.alloc(0);

function isApiError(r: unknown): r is ApiError {
  return typeof r === "object" && r !== null && "name" in r && "message" in r;
}

function checkOptions(options: SimOptions, keys: readonly string[]): void {
  if (new Set(keys).size !== keys.length)
    throw new SimConfigError(
      "SIM_DUPLICATE_KEY",
      "two accounts share an accessKey; give each its own",
    );
  for (const m of options.markets ?? [])
    if (!/^[A-Z]+-[A-Z0-9]+$/.test(typeof m === "string" ? m : m.market))
      throw new SimConfigError(
        "SIM_BAD_MARKET",
        `market ${JSON.stringify(m)} is not QUOTE-BASE in upper case (e.g. KRW-BTC)`,
      );
  if (
    options.port !== undefined &&
    !(Number.isInteger(options.port) && options.port >= 0 && options.port < 65536)
  )
    throw new SimConfigError("SIM_BAD_PORT", `port ${options.port} is not 0..65535`);
}

async function adminHttp(
  admin: SimAdmin,
  method: string,
  path: string,
  rawQuery: string,
  raw: Buffer,
  res: ServerResponse,
): Promise<void> {
  const reply = (status: number, body: unknown) => {
    res.writeHead(status, { "Content-Type": JSON_TYPE });
    res.end(JSON.stringify(body));
  };
  let body: Record<string, unknown> = {};
  try {
    if (raw.length > 0) body = JSON.parse(raw.toString("utf8")) as Record<string, unknown>;
  } catch {
    return reply(400, { error: { name: "invalid_json", message: "body is not JSON" } });
  }
  const q = Params.parse(rawQuery);
  const key = `${method} ${path.slice("/_admin".length)}`;
  try {
    switch (key) {
      case "POST /reset":
        admin.reset();
        return reply(200, { ok: true });
      case "POST /tick":
        admin.tick(Number(body.n ?? 1));
        return reply(200, { ok: true });
      case "POST /balance":
        admin.setBalance(String(body.accessKey), String(body.currency), String(body.balance));
        return reply(200, { ok: true });
      case "POST /price":
        admin.setPrice(String(body.market), Number(body.price));
        return reply(200, { ok: true });
      case "GET /orders":
        return reply(200, admin.orders(q.get("accessKey")));
      case "GET /fills":
        return reply(200, admin.fills(q.get("accessKey")));
      case "GET /trades":
        return reply(200, admin.trades(q.get("market") ?? ""));
      case "GET /counters":
        return reply(200, admin.counters());
      case "GET /faults":
        return reply(200, admin.faults());
      case "POST /faults":
        admin.setFaults(body as SimFaults);
        return reply(200, admin.faults());
      case "DELETE /faults":
        admin.clearFaults();
        return reply(200, admin.faults());
      case "POST /ws/disconnect":
        admin.disconnectWebSockets();
        return reply(200, { ok: true });
      default:
        return reply(404, { error: { name: "not_found", message: `no admin route ${key}` } });
    }
  } catch (err) {
    return reply(400, {
      error: { name: "bad_request", message: err instanceof Error ? err.message : String(err) },
    });
  }
}
