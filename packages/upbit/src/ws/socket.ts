/**
 * The transport layer of Upbit's WebSocket: one connection that connects,
 * stays alive, notices when it has gone quiet, and comes back.
 *
 * - Headers (e.g. `Authorization: Bearer <jwt>` for the private socket) come
 *   from a factory called on every (re)connect, so each attempt gets a fresh token.
 * - After each open, the subscription messages from `subscribe()` are sent
 *   (paced within Upbit's 5/s and 100/min per connection).
 * - Keep-alive: RFC 6455 ping frames every `pingIntervalMs` (a missing pong by
 *   the next ping drops the connection) and a text `PING` every
 *   `textPingIntervalMs`, well inside Upbit's 120 s idle limit.
 * - Stall: no data frame (heartbeats like `{"status":"UP"}` do not count) for
 *   `stallMs` drops the connection and reconnects.
 * - Reconnect: exponential backoff with full jitter, and every attempt books a
 *   slot in a connect limiter shared by the process (Upbit: 5 connects/s per IP).
 *
 * Frames are handed over raw; parsing is the parsers' job (parse.ts).
 */
import { UplineError } from "@upline/shared";
import WebSocket from "ws";
import {
  type BackoffOptions,
  backoffDelay,
  combineWindows,
  createConnectLimiter,
  createRateWindow,
  type RateWindow,
  systemTimers,
  type Timers,
} from "./timing.ts";

export type HeaderSource =
  | Readonly<Record<string, string>>
  | (() => Readonly<Record<string, string>> | Promise<Readonly<Record<string, string>>>);

export const SocketState = {
  Idle: "idle",
  Connecting: "connecting",
  Open: "open",
  Waiting: "waiting",
  Closed: "closed",
} as const;
export type SocketState = (typeof SocketState)[keyof typeof SocketState];

/** Why a connection ended. */
export const DownReason = {
  Closed: "closed",
  Error: "error",
  Stalled: "stalled",
  PongMissing: "pong_missing",
  ConnectFailed: "connect_failed",
} as const;
export type DownReason = (typeof DownReason)[keyof typeof DownReason];

export type SocketEvent =
  | { readonly type: "connecting"; readonly attempt: number }
  | { readonly type: "open"; readonly connects: number }
  | {
      readonly type: "down";
      readonly reason: DownReason;
      readonly code?: number;
      readonly error?: UplineError;
      /** Delay before the next attempt. */
      readonly retryInMs: number;
      /** When the last data frame arrived (epoch ms per the socket's clock), if any. */
      readonly lastDataAt?: number;
    }
  | { readonly type: "closed" };

export interface UpbitSocketOptions {
  /** `wss://api.upbit.com/websocket/v1` (or `/private`). */
  readonly url: string;
  /** Upgrade-request headers, or a factory called before every attempt. */
  readonly headers?: HeaderSource;
  /** Text messages to send after every open (subscription requests). */
  readonly subscribe?: () => readonly string[];
  /** Every frame except heartbeats, raw. Called synchronously from the socket. */
  readonly onFrame: (data: Buffer, isBinary: boolean) => void;
  readonly onEvent?: (event: SocketEvent) => void;
  /** Frames that prove liveness but are not data (default: `{"status":"UP"}`). */
  readonly isHeartbeat?: (data: Buffer) => boolean;
  /** Ping frame interval (default 25 s); a pong must arrive before the next ping. */
  readonly pingIntervalMs?: number;
  /** Text `PING` interval (default 60 s); 0 turns it off. */
  readonly textPingIntervalMs?: number;
  /** No data frame for this long → reconnect (default 15 s); 0 turns it off. */
  readonly stallMs?: number;
  /** Upgrade must finish within this (default 10 s). */
  readonly connectTimeoutMs?: number;
  readonly backoff?: BackoffOptions;
  /** Shared by every socket to one host (default: one per process, 4/s). */
  readonly connectLimiter?: RateWindow;
  /** Ask for permessage-deflate (Upbit supports it; default off: CPU over bandwidth). */
  readonly compress?: boolean;
  readonly timers?: Timers;
  readonly random?: () => number;
}

export interface UpbitSocketStats {
  readonly connects: number;
  readonly downs: number;
  readonly stalls: number;
  readonly frames: number;
  readonly heartbeats: number;
}

export interface UpbitSocket {
  /** Starts connecting; reconnects until {@link UpbitSocket.close}. */
  readonly start: () => void;
  /** Sends a text message now or once paced; dropped (false) while not open. */
  readonly send: (text: string) => boolean;
  /** Sends the subscription messages again (after the set changed). */
  readonly resubscribe: () => void;
  /** Drops the current connection and reconnects (tests, operator). */
  readonly reconnect: () => void;
  /**
   * Stops reading from the connection (TCP backpressure to the sender) until
   * {@link UpbitSocket.resume}: for a consumer that is behind. While paused the
   * stall watchdog and the pong check are suspended (nothing is read, so
   * neither data nor pongs can arrive); a reconnect stays paused.
   */
  readonly pause: () => void;
  /** Reads again; the stall and pong clocks restart from now. */
  readonly resume: () => void;
  readonly state: () => SocketState;
  readonly stats: () => UpbitSocketStats;
  /** Stops for good; resolves once the connection is closed. Safe to call twice. */
  readonly close: () => Promise<void>;
}

const UP = Buffer.from('{"status":"UP"}');
const defaultHeartbeat = (data: Buffer): boolean =>
  data.length === UP.length
    ? data.equals(UP)
    : data.length < 40 && /"status"/.test(data.toString());

let processConnectLimiter: RateWindow | undefined;

/** The connect budget shared by every socket of this process that was given none. */
function sharedConnectLimiter(): RateWindow {
  processConnectLimiter ??= createConnectLimiter();
  return processConnectLimiter;
}

export function createUpbitSocket(options: UpbitSocketOptions): UpbitSocket {
  const timers = options.timers ?? systemTimers;
  const random = options.random ?? Math.random;
  const limiter = options.connectLimiter ?? sharedConnectLimiter();
  const isHeartbeat = options.isHeartbeat ?? defaultHeartbeat;
  const pingMs = options.pingIntervalMs ?? 25_000;
  const textPingMs = options.textPingIntervalMs ?? 60_000;
  const stallMs = options.stallMs ?? 15_000;
  const connectTimeoutMs = options.connectTimeoutMs ?? 10_000;

  let state: SocketState = SocketState.Idle;
  let ws: WebSocket | undefined;
  let attempt = 0;
  let connects = 0;
  let downs = 0;
  let stalls = 0;
  let frames = 0;
  let heartbeats = 0;
  let lastDataAt = 0;
  let lastDataEver: number | undefined;
  let awaitingPong = false;
  let paused = false;
  let retryTimer: unknown;
  let watchTimer: unknown;
  let pingTimer: unknown;
  let textPingTimer: unknown;
  let closing: Promise<void> | undefined;
  let sendWindow: RateWindow = newSendWindow();
  const sendTimers = new Set<unknown>();

  function newSendWindow(): RateWindow {
    return combineWindows(
      createRateWindow(5, 1000, timers.now),
      createRateWindow(100, 60_000, timers.now),
    );
  }

  const emit = (event: SocketEvent) => {
    try {
      options.onEvent?.(event);
    } catch {
      // A listener's failure must not break the connection's own bookkeeping.
    }
  };

  const clearTimers = () => {
    for (const t of [watchTimer, pingTimer, textPingTimer])
      if (t !== undefined) timers.clearTimeout(t);
    watchTimer = pingTimer = textPingTimer = undefined;
    for (const t of sendTimers) timers.clearTimeout(t);
    sendTimers.clear();
  };

  const scheduleConnect = (delayMs: number) => {
    state = SocketState.Waiting;
    retryTimer = timers.setTimeout(() => {
      retryTimer = undefined;
      void connect();
    }, delayMs);
  };

  const down = (reason: DownReason, code?: number, error?: UplineError) => {
    if (state === SocketState.Closed) return;
    clearTimers();
    const old = ws;
    ws = undefined;
    if (old !== undefined) {
      old.removeAllListeners();
      old.on("error", () => {});
      old.terminate();
    }
    downs++;
    if (reason === DownReason.Stalled) stalls++;
    const backoff = backoffDelay(attempt, options.backoff, random);
    attempt++;
    // The connect limiter books the slot when the attempt starts (see connect()).
    emit({
      type: "down",
      reason,
      ...(code === undefined ? {} : { code }),
      ...(error === undefined ? {} : { error }),
      retryInMs: backoff,
      ...(lastDataEver === undefined ? {} : { lastDataAt: lastDataEver }),
    });
    if (closing) return;
    scheduleConnect(backoff);
  };

  const connect = async (booked = false) => {
    if (closing) return;
    if (!booked) {
      const wait = limiter.reserve();
      if (wait > 0) {
        // The slot is booked now; connect when it comes.
        state = SocketState.Waiting;
        retryTimer = timers.setTimeout(() => {
          retryTimer = undefined;
          void connect(true);
        }, wait);
        return;
      }
    }
    state = SocketState.Connecting;
    emit({ type: "connecting", attempt });
    let headers: Readonly<Record<string, string>> | undefined;
    try {
      const h = options.headers;
      headers = typeof h === "function" ? await h() : h;
    } catch (cause) {
      down(
        DownReason.ConnectFailed,
        undefined,
        new UplineError("UPBIT_WS_UNAVAILABLE", "the socket's header factory failed", { cause }),
      );
      return;
    }
    if (closing) return;
    const socket = new WebSocket(options.url, {
      ...(headers === undefined ? {} : { headers: { ...headers } }),
      handshakeTimeout: connectTimeoutMs,
      perMessageDeflate: options.compress === true,
      maxPayload: 16 * 1024 * 1024,
    });
    ws = socket;
    socket.on("open", () => onOpen(socket));
    socket.on("message", (data, isBinary) => onMessage(data as Buffer, isBinary));
    socket.on("pong", () => {
      awaitingPong = false;
    });
    socket.on("error", (err) => {
      if (ws !== socket) return;
      down(
        state === SocketState.Open ? DownReason.Error : DownReason.ConnectFailed,
        undefined,
        new UplineError("UPBIT_WS_UNAVAILABLE", `WebSocket ${options.url}: ${err.message}`, {
          cause: err,
        }),
      );
    });
    socket.on("close", (code) => {
      if (ws !== socket) return;
      down(DownReason.Closed, code);
    });
  };

  const onOpen = (socket: WebSocket) => {
    if (ws !== socket) return;
    state = SocketState.Open;
    connects++;
    lastDataAt = timers.now();
    awaitingPong = false;
    sendWindow = newSendWindow();
    emit({ type: "open", connects });
    if (paused) socket.pause();
    for (const msg of options.subscribe?.() ?? []) send(msg);
    armWatchdog();
    armPing();
    armTextPing();
  };

  const onMessage = (data: Buffer, isBinary: boolean) => {
    if (isHeartbeat(data)) {
      heartbeats++;
      return;
    }
    frames++;
    lastDataAt = timers.now();
    lastDataEver = lastDataAt;
    // A connection that delivers data is healthy: the next failure starts backoff afresh.
    attempt = 0;
    options.onFrame(data, isBinary);
  };

  const armWatchdog = () => {
    if (stallMs <= 0) return;
    const check = () => {
      watchTimer = undefined;
      if (state !== SocketState.Open) return;
      if (paused) {
        // Nothing is read while paused: not a stall. resume() restarts the clock.
        watchTimer = timers.setTimeout(check, Math.max(10, stallMs / 4));
        return;
      }
      const idle = timers.now() - lastDataAt;
      if (idle >= stallMs) {
        down(
          DownReason.Stalled,
          undefined,
          new UplineError(
            "UPBIT_WS_UNAVAILABLE",
            `no data for ${idle} ms (stall limit ${stallMs} ms)`,
          ),
        );
        return;
      }
      watchTimer = timers.setTimeout(check, Math.max(10, Math.min(stallMs - idle, stallMs / 4)));
    };
    watchTimer = timers.setTimeout(check, Math.max(10, stallMs / 4));
  };

  const armPing = () => {
    if (pingMs <= 0) return;
    pingTimer = timers.setTimeout(() => {
      pingTimer = undefined;
      if (state !== SocketState.Open || ws === undefined) return;
      if (awaitingPong && !paused) {
        down(
          DownReason.PongMissing,
          undefined,
          new UplineError("UPBIT_WS_UNAVAILABLE", `no pong within ${pingMs} ms`),
        );
        return;
      }
      awaitingPong = true;
      try {
        ws.ping();
      } catch {
        // The close event follows.
      }
      armPing();
    }, pingMs);
  };

  const armTextPing = () => {
    if (textPingMs <= 0) return;
    textPingTimer = timers.setTimeout(() => {
      textPingTimer = undefined;
      if (state !== SocketState.Open) return;
      send("PING");
      armTextPing();
    }, textPingMs);
  };

  const send = (text: string): boolean => {
    if (state !== SocketState.Open || ws === undefined) return false;
    const socket = ws;
    const wait = sendWindow.reserve();
    if (wait <= 0) {
      socket.send(text);
      return true;
    }
    const t = timers.setTimeout(() => {
      sendTimers.delete(t);
      if (ws === socket && state === SocketState.Open) socket.send(text);
    }, wait);
    sendTimers.add(t);
    return true;
  };

  return {
    start: () => {
      if (state !== SocketState.Idle) return;
      void connect();
    },
    send,
    resubscribe: () => {
      for (const msg of options.subscribe?.() ?? []) send(msg);
    },
    reconnect: () => {
      if (state === SocketState.Open || state === SocketState.Connecting) down(DownReason.Closed);
    },
    pause: () => {
      if (paused) return;
      paused = true;
      if (state === SocketState.Open) ws?.pause();
    },
    resume: () => {
      if (!paused) return;
      paused = false;
      lastDataAt = timers.now();
      awaitingPong = false;
      if (state === SocketState.Open) ws?.resume();
    },
    state: () => state,
    stats: () => ({ connects, downs, stalls, frames, heartbeats }),
    close: () => {
      closing ??= (async () => {
        if (retryTimer !== undefined) timers.clearTimeout(retryTimer);
        clearTimers();
        const socket = ws;
        ws = undefined;
        state = SocketState.Closed;
        if (socket !== undefined) {
          socket.removeAllListeners();
          await new Promise<void>((resolve) => {
            if (socket.readyState === WebSocket.CLOSED) {
              resolve();
              return;
            }
            const t = setTimeout(() => {
              socket.terminate();
              resolve();
            }, 1000);
            socket.once("close", () => {
              clearTimeout(t);
              resolve();
            });
            socket.on("error", () => {});
            if (socket.readyState === WebSocket.CONNECTING) socket.terminate();
            else socket.close(1000);
          });
        }
        emit({ type: "closed" });
      })();
      return closing;
    },
  };
}
