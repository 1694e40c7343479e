/**
 * Test helpers: random keys and an Upbit JWT signer written here, apart from the
 * simulator's own code, so the two check each other.
 */
import { createHash, createHmac, randomBytes, randomUUID } from "node:crypto";
import { WebSocket } from "ws";
import type { Sim, SimAccount } from "../src/index.ts";

export function newKeys(): { accessKey: string; secretKey: string } {
  return {
    accessKey: randomBytes(20).toString("hex"),
    secretKey: randomBytes(30).toString("base64"),
  };
}

export function account(overrides: Partial<SimAccount> = {}): SimAccount {
  return { ...newKeys(), balances: { KRW: "100000000", BTC: "10", ETH: "100" }, ...overrides };
}

const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString("base64url");

/** Builds a JWT the way the official Python sample does: hash of unquote(urlencode(params)). */
export function token(
  acc: { accessKey: string; secretKey: string },
  hashed: string | null,
  opts: { alg?: "HS256" | "HS512" | "none"; nonce?: string; signAlg?: "sha256" | "sha512" } = {},
): string {
  const alg = opts.alg ?? "HS256";
  const payload: Record<string, string> = {
    access_key: acc.accessKey,
    nonce: opts.nonce ?? randomUUID(),
  };
  if (hashed !== null) {
    payload.query_hash = createHash("sha512").update(hashed, "utf8").digest("hex");
    payload.query_hash_alg = "SHA512";
  }
  const input = `${b64({ alg, typ: "JWT" })}.${b64(payload)}`;
  if (alg === "none") return `${input}.`;
  const h = opts.signAlg ?? (alg === "HS256" ? "sha256" : "sha512");
  return `${input}.${createHmac(h, acc.secretKey).update(input).digest("base64url")}`;
}

export interface Reply {
  readonly status: number;
  readonly headers: Headers;
  readonly text: string;
  // biome-ignore lint/suspicious/noExplicitAny: test convenience over JSON replies
  readonly json: any;
  readonly remaining: string | null;
}

/** Encodes a query like requests/urllib do, leaving `[]` readable. */
export function encodeQuery(params: readonly (readonly [string, string])[]): string {
  return params
    .map(([k, v]) => `${encodeURIComponent(k).replaceAll("%5B%5D", "[]")}=${encodeURIComponent(v)}`)
    .join("&");
}

export async function call(
  sim: Sim,
  method: string,
  path: string,
  o: {
    params?: readonly (readonly [string, string])[];
    body?: Record<string, unknown>;
    key?: { accessKey: string; secretKey: string };
    alg?: "HS256" | "HS512";
    authorization?: string;
    rawQuery?: string;
  } = {},
): Promise<Reply> {
  const params = o.params ?? [];
  const query = o.rawQuery ?? encodeQuery(params);
  const headers: Record<string, string> = {};
  let bodyText: string | undefined;
  if (o.body !== undefined) {
    bodyText = JSON.stringify(o.body);
    headers["Content-Type"] = "application/json; charset=utf-8";
  }
  if (o.authorization !== undefined) headers.Authorization = o.authorization;
  else if (o.key !== undefined) {
    const hashed =
      o.body !== undefined
        ? Object.entries(o.body)
            .filter(([, v]) => v !== null && v !== undefined)
            .map(([k, v]) => `${k}=${String(v)}`)
            .join("&")
        : params.map(([k, v]) => `${k}=${v}`).join("&");
    headers.Authorization = `Bearer ${token(o.key, hashed === "" ? null : hashed, { alg: o.alg ?? "HS256" })}`;
  }
  const init: RequestInit = { method, headers };
  if (bodyText !== undefined) init.body = bodyText;
  const res = await fetch(`${sim.restUrl}${path}${query === "" ? "" : `?${query}`}`, init);
  const text = await res.text();
  let json: unknown = null;
  try {
    json = JSON.parse(text);
  } catch {
    json = null;
  }
  return {
    status: res.status,
    headers: res.headers,
    text,
    json,
    remaining: res.headers.get("remaining-req"),
  };
}

/** A controllable clock for rate-limit windows. */
export function manualClock(start = Date.UTC(2026, 10, 20, 3, 0, 0)): {
  now: () => number;
  advance: (ms: number) => void;
} {
  let t = start;
  return { now: () => t, advance: (ms) => (t += ms) };
}

/** A WebSocket client that records every frame (binary flag and parsed JSON) and waits for conditions. */
export class WsProbe {
  readonly frames: { binary: boolean; text: string; json: unknown }[] = [];
  readonly ws: WebSocket;
  #waiters: (() => void)[] = [];
  closed: { code: number } | null = null;

  constructor(ws: WebSocket) {
    this.ws = ws;
    ws.on("message", (data: Buffer, isBinary: boolean) => {
      const text = data.toString("utf8");
      let json: unknown = null;
      try {
        json = JSON.parse(text);
      } catch {
        json = null;
      }
      this.frames.push({ binary: isBinary, text, json });
      this.#wake();
    });
    ws.on("close", (code: number) => {
      this.closed = { code };
      this.#wake();
    });
  }

  static async open(url: string, headers?: Record<string, string>): Promise<WsProbe> {
    const ws = new WebSocket(url, headers ? { headers } : {});
    const probe = new WsProbe(ws);
    await new Promise<void>((resolve, reject) => {
      ws.once("open", () => resolve());
      ws.once("error", reject);
    });
    return probe;
  }

  #wake(): void {
    const w = this.#waiters;
    this.#waiters = [];
    for (const f of w) f();
  }

  // biome-ignore lint/suspicious/noExplicitAny: parsed JSON frames
  json(): any[] {
    return this.frames.map((f) => f.json);
  }

  /** Resolves once `pred` holds over the frames so far (re-checked on every frame), or rejects after the timeout. */
  async until(pred: (p: WsProbe) => boolean, timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!pred(this)) {
      const left = deadline - Date.now();
      if (left <= 0)
        throw new Error(`condition not met in ${timeoutMs} ms; frames: ${this.frames.length}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.#waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  send(v: unknown): void {
    this.ws.send(typeof v === "string" ? v : JSON.stringify(v));
  }

  close(): void {
    this.ws.terminate();
  }
}
