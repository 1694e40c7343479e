/**
 * The private WebSocket per account (myOrder, myAsset; a token from the signer
 * on every connect, carrying only access_key and nonce): fills and state
 * changes become order events. On every open — the first and each reconnect —
 * open orders are reconciled through REST, so nothing missed while the socket
 * was down stays missed.
 */
import { randomUUID } from "node:crypto";
import type { Logger, OrderEvent } from "@upline/shared";
import { createUpbitSocket, type OrderApi, orderRequests, type UpbitSocket } from "@upline/upbit";
import type { ExchangeCallSigner } from "./exec.ts";
import { eventFromMyOrder, eventsFromRestOrder, reconciledEvent } from "./my-order.ts";

export interface PrivateFeedOptions {
  readonly url: string;
  readonly accounts: Readonly<Record<string, string>>;
  readonly sign: ExchangeCallSigner;
  /** The Authorization value for the private socket of a key. */
  readonly signWs: (keyId: string) => Promise<string>;
  readonly api: OrderApi;
  readonly publishEvent: (event: OrderEvent) => Promise<void>;
  readonly logger: Logger;
  readonly clock: () => number;
  readonly queueMs: number;
}

/**
 * The orders known to be open per account: listed open at the last
 * reconciliation, or reported since (accepted, open). An order that leaves the
 * open list while the socket was down is looked up, so its fills are not lost.
 */
export interface OpenOrders {
  /** Every order event goes through here (the executor's and the feed's). */
  readonly observe: (event: OrderEvent) => void;
}

export interface PrivateFeed extends OpenOrders {
  readonly start: () => void;
  readonly close: () => Promise<void>;
  readonly state: () => Record<string, string>;
  /** Reconciliations finished per account (tests, health). */
  readonly reconciled: () => Readonly<Record<string, number>>;
  /** Every account's socket was subscribed and reconciled at least once. */
  readonly ready: () => boolean;
}

export function createPrivateFeed(options: PrivateFeedOptions): PrivateFeed {
  const log = options.logger.child({ component: "private-feed" });
  const sockets = new Map<string, UpbitSocket>();
  const reconciled: Record<string, number> = {};
  // uuid → account of every order known to be open.
  const known = new Map<string, string>();
  const FINAL = new Set(["filled", "cancelled"]);
  const observe = (e: OrderEvent) => {
    if (e.uuid === undefined) return;
    if (FINAL.has(e.type)) known.delete(e.uuid);
    else if (e.type === "accepted" || e.type === "open" || e.type === "partially_filled") {
      known.set(e.uuid, e.account);
    }
  };
  const iso = () => new Date(options.clock()).toISOString();

  const publish = (e: OrderEvent) =>
    options
      .publishEvent(e)
      .catch((err: unknown) => log.error({ err, event: e.id }, "order event not published"));

  const reconcile = async (account: string, keyId: string) => {
    const open = new Set<string>();
    const partial: string[] = [];
    for (let page = 1; page <= 50; page++) {
      const call = orderRequests.listOpenOrders(page);
      const grant = await options.sign(keyId, call);
      const orders = await options.api.listOpenOrders(grant, {
        deadlineMs: options.clock() + options.queueMs,
      });
      for (const o of orders) {
        open.add(o.uuid);
        if (o.executed_volume && !/^0(\.0*)?$/.test(o.executed_volume)) partial.push(o.uuid);
      }
      await Promise.all(orders.map((o) => publish(reconciledEvent(account, o, iso()))));
      if (orders.length < 100) break;
    }
    // Looked up with their trades (GET /v1/order): orders known to be open but
    // not in the list — closed while nobody listened, or placed after the list
    // was read (still open: nothing new, and they stay known) — and open orders
    // that traded, whose fills may have happened while nobody listened.
    const lookups = [
      ...[...known]
        .filter(([uuid, owner]) => owner === account && !open.has(uuid))
        .map(([uuid]) => uuid),
      ...partial,
    ];
    for (const uuid of lookups) {
      const key = { uuid };
      const grant = await options.sign(keyId, orderRequests.getOrder(key));
      const order = await options.api.getOrder(key, grant, {
        deadlineMs: options.clock() + options.queueMs,
      });
      const events = eventsFromRestOrder(account, order, iso());
      for (const e of events) await publish(e);
      if (!open.has(uuid) && events.some((e) => e.type === "filled" || e.type === "cancelled")) {
        known.delete(uuid);
        log.info(
          { account, uuid, events: events.length },
          "order closed while the socket was down: caught up",
        );
      }
    }
    for (const uuid of open) known.set(uuid, account);
    reconciled[account] = (reconciled[account] ?? 0) + 1;
    log.info({ account }, "open orders reconciled");
  };

  return {
    start: () => {
      for (const [account, keyId] of Object.entries(options.accounts)) {
        const socket = createUpbitSocket({
          url: options.url,
          headers: async () => ({ authorization: await options.signWs(keyId) }),
          subscribe: () => [
            JSON.stringify([
              { ticket: randomUUID() },
              { type: "myOrder" },
              { type: "myAsset" },
              { format: "DEFAULT" },
            ]),
          ],
          // A private socket is quiet while nothing happens: liveness comes from pings only.
          stallMs: 0,
          onFrame: (data) => {
            let frame: unknown;
            try {
              frame = JSON.parse(data.toString("utf8"));
            } catch {
              return;
            }
            const e = eventFromMyOrder(account, frame, iso());
            if (e !== undefined) void publish(e);
          },
          onEvent: (ev) => {
            if (ev.type === "open")
              reconcile(account, keyId).catch((err: unknown) =>
                log.warn({ err, account }, "reconciliation failed"),
              );
            else if (ev.type === "down")
              log.warn({ account, reason: ev.reason }, "private socket down");
          },
        });
        sockets.set(account, socket);
        socket.start();
      }
    },
    close: async () => {
      await Promise.all([...sockets.values()].map((s) => s.close()));
    },
    state: () => Object.fromEntries([...sockets].map(([a, s]) => [a, s.state()])),
    reconciled: () => ({ ...reconciled }),
    ready: () => Object.keys(options.accounts).every((a) => (reconciled[a] ?? 0) > 0),
    observe,
  };
}
