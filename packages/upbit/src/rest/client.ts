/**
 * Transport for Upbit's exchange and quotation REST API: one keep-alive undici
 * `Pool` per base URL, `request()` (not `fetch()`), connect / headers / body
 * timeouts, every response classified (errors.ts) and its `Remaining-Req`
 * fed to the rate governor. Requests are signed elsewhere (the signer): this
 * client sends the granted `url_query` or `body` byte for byte.
 */
import { SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
import { Pool } from "undici";
import type { RateGate } from "../governor/governor.ts";
import { classifyNetworkError, classifyResponse, UpbitRestError } from "./errors.ts";
import { parseRemainingReq, type RemainingReq } from "./remaining.ts";

/** What the signer granted for one request (`SignGrant` of @upline/shared). */
export interface SignedGrant {
  readonly authorization: string;
  /** GET/DELETE: the percent-encoded query to put after `?`. */
  readonly url_query?: string;
  /** POST: the exact JSON text to send. */
  readonly body?: string;
}

export type HttpMethod = "GET" | "POST" | "DELETE";

export interface RestClientOptions {
  /** e.g. `https://api.upbit.com` (no `/v1`). */
  readonly baseUrl: string;
  readonly connections?: number;
  readonly connectTimeoutMs?: number;
  readonly headersTimeoutMs?: number;
  readonly bodyTimeoutMs?: number;
  readonly keepAliveTimeoutMs?: number;
  /** The rate governor; every call waits for a slot of its group. None: no pacing (benchmarks). */
  readonly gate?: RateGate;
  readonly clock?: () => number;
}

export interface CallOptions {
  /** Give up waiting for a rate slot after this time (epoch ms). Default: now + 5 s. */
  readonly deadlineMs?: number;
}

export interface RestResponse<T = unknown> {
  readonly status: number;
  readonly body: T;
  readonly remaining: RemainingReq | undefined;
}

export interface RestClient {
  /** Sends one signed call; resolves on 2xx, rejects with an {@link UpbitRestError} otherwise. */
  readonly call: (
    method: HttpMethod,
    path: string,
    group: string,
    grant: SignedGrant | undefined,
    options?: CallOptions,
  ) => Promise<RestResponse>;
  /** Closes the pool (waits for in-flight requests). Safe to call twice. */
  readonly close: () => Promise<void>;
}

const JSON_TYPE = "application/json; charset=utf-8";
const tracer = trace.getTracer("@upline/upbit");

export function createRestClient(options: RestClientOptions): RestClient {
  const url = new URL(options.baseUrl);
  const prefix = url.pathname.replace(/\/$/, "");
  const clock = options.clock ?? Date.now;
  const pool = new Pool(url.origin, {
    connections: options.connections ?? 16,
    connectTimeout: options.connectTimeoutMs ?? 3_000,
    headersTimeout: options.headersTimeoutMs ?? 5_000,
    bodyTimeout: options.bodyTimeoutMs ?? 5_000,
    keepAliveTimeout: options.keepAliveTimeoutMs ?? 30_000,
    pipelining: 1,
  });
  const gate = options.gate;
  let closing: Promise<void> | undefined;

  // One client span per exchange call (the rate-slot wait included), named
  // `{method} {route}`: the hop to the exchange in an order's trace.
  const call: RestClient["call"] = (method, path, group, grant, callOptions = {}) =>
    tracer.startActiveSpan(
      `${method} ${path}`,
      {
        kind: SpanKind.CLIENT,
        attributes: {
          "http.request.method": method,
          "url.path": `${prefix}${path}`,
          "server.address": url.hostname,
          "upbit.rate_group": group,
        },
      },
      async (span) => {
        try {
          const res = await send(method, path, group, grant, callOptions);
          span.setAttribute("http.response.status_code", res.status);
          if (res.remaining !== undefined)
            span.setAttribute("upbit.remaining_sec", res.remaining.sec);
          return res;
        } catch (err) {
          const e = err as UpbitRestError;
          if (e.status) span.setAttribute("http.response.status_code", e.status);
          if (e.exchangeError) span.setAttribute("upbit.error_name", e.exchangeError);
          span.setStatus({ code: SpanStatusCode.ERROR, message: e.code });
          throw err;
        } finally {
          span.end();
        }
      },
    );

  const send: RestClient["call"] = async (method, path, group, grant, callOptions = {}) => {
    const what = `${method} ${path}`;
    const slot =
      gate === undefined
        ? undefined
        : await gate.acquire(group, callOptions.deadlineMs ?? clock() + 5_000);
    const headers: Record<string, string> = { accept: "application/json" };
    if (grant !== undefined && grant.authorization !== "")
      headers.authorization = grant.authorization;
    const query = grant?.url_query;
    const body = method === "POST" ? (grant?.body ?? "{}") : undefined;
    if (body !== undefined) headers["content-type"] = JSON_TYPE;
    let status = 0;
    let text = "";
    let remaining: RemainingReq | undefined;
    let retryAfter: string | undefined;
    try {
      const res = await pool.request({
        method,
        path: `${prefix}${path}${query ? `?${query}` : ""}`,
        headers,
        ...(body === undefined ? {} : { body }),
      });
      status = res.statusCode;
      remaining = parseRemainingReq(res.headers["remaining-req"]);
      const ra = res.headers["retry-after"];
      retryAfter = typeof ra === "string" ? ra : undefined;
      text = await res.body.text();
    } catch (err) {
      const failure = classifyNetworkError(err, what);
      if (gate !== undefined && slot !== undefined)
        await gate.observe(group, slot, { status: 0 }).catch(() => undefined);
      throw failure;
    }
    const observedGroup = remaining?.group ?? group;
    const failure =
      status >= 200 && status < 300
        ? undefined
        : classifyResponse(
            status,
            text,
            {
              ...(retryAfter === undefined ? {} : { retryAfter }),
              group: observedGroup,
            },
            what,
            clock(),
          );
    if (gate !== undefined && slot !== undefined) {
      await gate
        .observe(observedGroup, slot, {
          status,
          ...(remaining === undefined ? {} : { remaining: remaining.sec }),
          ...(failure?.retryAfterMs === undefined ? {} : { retryAfterMs: failure.retryAfterMs }),
        })
        .catch(() => undefined);
    }
    if (failure !== undefined) throw failure;
    let parsed: unknown;
    try {
      parsed = text === "" ? null : JSON.parse(text);
    } catch (err) {
      // A 2xx we cannot read: for an order the outcome is unknown.
      throw new UpbitRestError(
        "UPBIT_REST_UNAVAILABLE",
        `${what}: HTTP ${status} with an unreadable body`,
        { status, outcomeUnknown: true },
        err,
      );
    }
    return { status, body: parsed, remaining };
  };

  return {
    call,
    close: () => {
      closing ??= pool.close().catch(() => undefined);
      return closing;
    },
  };
}
