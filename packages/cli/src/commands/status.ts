/**
 * `upline status`: is the system healthy? Each service's /readyz (URLs from
 * UPLINE_HEALTH_URLS, which `pnpm start` writes to its run file), the streams
 * (MD, ORDERS, AUDIT: messages and age; the audit consumer's backlog), the
 * kill switch, order-exec's rate-limit state (ban, queued calls, from its
 * /readyz detail) and feed freshness per market from `md.v1.health.*`.
 */
import { setTimeout as delay } from "node:timers/promises";
import { parseArgs } from "node:util";
import { JetStreamApiError, jetstreamManager } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/transport-node";
import {
  ControlState,
  decodeMessage,
  FeedHealth,
  isUplineError,
  type Subjects,
} from "@upline/shared";
import { withBus } from "../bus.ts";
import { type Command, UsageError } from "../cli.ts";
import { cliConfig, healthUrls } from "../config.ts";
import { ago, ExitCode, hintFor, printJson, table } from "../output.ts";

export interface ServiceHealth {
  readonly name: string;
  readonly url: string;
  readonly state: "ready" | "not_ready" | "unreachable";
  readonly detail?: Record<string, unknown>;
  readonly error?: string;
}

export async function probeService(
  name: string,
  url: string,
  timeoutMs: number,
): Promise<ServiceHealth> {
  try {
    const res = await fetch(`${url.replace(/\/$/, "")}/readyz`, {
      signal: AbortSignal.timeout(timeoutMs),
    });
    const body = (await res.json().catch(() => ({}))) as Record<string, unknown>;
    const { ok: _ok, ...detail } = body;
    return { name, url, state: res.status === 200 ? "ready" : "not_ready", detail };
  } catch (err) {
    return { name, url, state: "unreachable", error: (err as Error).message };
  }
}

export interface StreamState {
  readonly name: string;
  readonly messages?: number;
  readonly bytes?: number;
  readonly last_age_ms?: number;
  readonly consumer_pending?: number;
  readonly consumer_ack_pending?: number;
  readonly error?: string;
}

async function streams(
  nc: NatsConnection,
  subjects: Subjects,
  consumer: string,
): Promise<StreamState[]> {
  const jsm = await jetstreamManager(nc);
  const out: StreamState[] = [];
  for (const name of [subjects.streams.md, subjects.streams.orders, subjects.streams.audit]) {
    try {
      const info = await jsm.streams.info(name);
      const last = info.state.last_ts ? Date.parse(info.state.last_ts) : undefined;
      let pending: { consumer_pending?: number; consumer_ack_pending?: number } = {};
      if (name === subjects.streams.audit) {
        try {
          const ci = await jsm.consumers.info(name, consumer);
          pending = { consumer_pending: ci.num_pending, consumer_ack_pending: ci.num_ack_pending };
        } catch (err) {
          if (!(err instanceof JetStreamApiError)) throw err;
          pending = {};
        }
      }
      out.push({
        name,
        messages: info.state.messages,
        bytes: info.state.bytes,
        ...(last === undefined || info.state.messages === 0
          ? {}
          : { last_age_ms: Date.now() - last }),
        ...pending,
      });
    } catch (err) {
      out.push({ name, error: err instanceof JetStreamApiError ? err.message : String(err) });
    }
  }
  return out;
}

async function feedHealth(
  nc: NatsConnection,
  subjects: Subjects,
  waitMs: number,
): Promise<FeedHealth[]> {
  const latest = new Map<string, FeedHealth>();
  const sub = nc.subscribe(subjects.md.healthAll, {
    callback: (err, msg) => {
      if (err) return;
      try {
        const h = decodeMessage(FeedHealth, msg.data, msg.subject);
        latest.set(h.market, h);
      } catch {
        // a malformed health message is not a market we can report on
      }
    },
  });
  await nc.flush();
  // A collection window: health is published every FEED_HEALTH_INTERVAL_MS (1 s by default).
  await delay(waitMs);
  sub.unsubscribe();
  return [...latest.values()].sort((a, b) => a.market.localeCompare(b.market));
}

async function tradingState(nc: NatsConnection, subjects: Subjects): Promise<ControlState | null> {
  const kv = await new Kvm(nc).open(subjects.buckets.control);
  const e = await kv.get(subjects.controlTradingKey);
  return e?.operation === "PUT" && e.value.length > 0
    ? decodeMessage(ControlState, e.value, "control/trading")
    : null;
}

function summary(detail: Record<string, unknown> | undefined): string {
  if (detail === undefined) return "";
  const parts: string[] = [];
  for (const [k, v] of Object.entries(detail)) {
    if (k === "markets" || k === "stats") continue;
    if (k === "banned_until" && typeof v === "number")
      parts.push(v > Date.now() ? `BANNED until ${new Date(v).toISOString()}` : "not banned");
    else if (v !== null && typeof v === "object") parts.push(`${k}=${JSON.stringify(v)}`);
    else parts.push(`${k}=${String(v)}`);
  }
  return parts.join(" ");
}

const status: Command = {
  path: ["status"],
  summary: "health of every service, stream backlogs, kill switch, rate limits, feed freshness",
  usage:
    "[--json] [--wait-ms 1500]   (service URLs: UPLINE_HEALTH_URLS=name=url,…; set by `pnpm start`)",
  run: async (args, io) => {
    const { values } = parseArgs({
      args: [...args],
      options: { json: { type: "boolean", default: false }, "wait-ms": { type: "string" } },
      strict: true,
    });
    const waitMs = Number(values["wait-ms"] ?? 1_500);
    if (!Number.isFinite(waitMs) || waitMs < 0)
      throw new UsageError("--wait-ms must be a number of milliseconds");
    const config = cliConfig(io.env);
    const services = await Promise.all(
      healthUrls(config).map(([name, url]) =>
        probeService(name, url, Math.min(config.UPLINE_TIMEOUT_MS, 3_000)),
      ),
    );
    let bus:
      | { streams: StreamState[]; trading: ControlState | null; feed: FeedHealth[] }
      | { error: { code: string; message: string } };
    try {
      bus = await withBus(config, async ({ nc, subjects }) => {
        const [s, t, f] = await Promise.all([
          streams(nc, subjects, config.AUDIT_CONSUMER),
          tradingState(nc, subjects).catch(() => null),
          feedHealth(nc, subjects, waitMs),
        ]);
        return { streams: s, trading: t, feed: f };
      });
    } catch (err) {
      if (!isUplineError(err)) throw err;
      bus = { error: { code: err.code, message: err.message } };
    }
    const unhealthy =
      services.some((s) => s.state !== "ready") ||
      ("feed" in bus &&
        (bus.feed.some((f) => f.state !== "fresh") ||
          bus.streams.some((s) => s.error !== undefined) ||
          bus.trading === null));
    const code = "error" in bus ? ExitCode.Unreachable : unhealthy ? ExitCode.Failed : ExitCode.Ok;
    if (values.json) {
      printJson(io, { ok: code === ExitCode.Ok, nats: config.NATS_URL, services, ...bus });
      return code;
    }
    io.out(
      `NATS ${config.NATS_URL}${config.UPLINE_NAMESPACE ? `  namespace ${config.UPLINE_NAMESPACE}` : ""}\n\nservices\n`,
    );
    if (services.length === 0)
      io.out(
        "  no health URLs known: set UPLINE_HEALTH_URLS=name=http://host:port,… (pnpm start sets it)\n",
      );
    else
      io.out(
        table(
          services.map((s) => [
            " ",
            s.name,
            s.state,
            s.url,
            s.state === "unreachable" ? s.error : summary(s.detail),
          ]),
        ),
      );
    if ("error" in bus) {
      io.out(`\nNATS unreachable: ${bus.error.code}: ${bus.error.message}\n`);
      const hint = hintFor(bus.error.code);
      if (hint) io.out(`  → ${hint}\n`);
      return code;
    }
    const t = bus.trading;
    io.out(
      `\nkill switch  ${t === null ? "UNSET (the signer refuses grants until it is set)" : `${t.state}  by ${t.actor} at ${t.updated_at}: ${t.reason}`}\n`,
    );
    io.out("\nstreams\n");
    io.out(
      table(
        bus.streams.map((s) =>
          s.error
            ? [" ", s.name, "error", s.error]
            : [
                " ",
                s.name,
                `${s.messages} msgs`,
                `${((s.bytes ?? 0) / 1024 / 1024).toFixed(1)} MiB`,
                s.last_age_ms === undefined ? "empty" : `last ${ago(s.last_age_ms)} ago`,
                s.consumer_pending === undefined
                  ? ""
                  : `audit backlog ${s.consumer_pending} pending, ${s.consumer_ack_pending} unacked`,
              ],
        ),
      ),
    );
    io.out(`\nfeed freshness (md.v1.health.*, ${waitMs} ms)\n`);
    if (bus.feed.length === 0) io.out("  no health messages: is market-feed running?\n");
    else
      io.out(
        table(
          bus.feed.map((f) => [
            " ",
            f.market,
            f.state,
            f.staleness_ms === undefined ? "-" : `${ago(f.staleness_ms)} old`,
            `gaps ${f.gaps}`,
            `reconnects ${f.reconnects}`,
          ]),
        ),
      );
    io.out(`\n${code === ExitCode.Ok ? "all healthy" : "NOT healthy: see above"}\n`);
    return code;
  },
};

export const statusCommands: readonly Command[] = [status];
