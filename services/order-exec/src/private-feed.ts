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
import { eventFromMyOrder, reconciledEvent } from "./my-order.ts";

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

export interface PrivateFeed {
  readonly start: () => void;
  readonly close: () => Promise<void>;
  readonly state: () => Record<string, string>;
  /** Reconciliations finished per account (tests, health). */
  readonly reconciled: () => Readonly<Record<string, number>>;
}

export function createPrivateFeed(options: PrivateFeedOptions): PrivateFeed {
  const log = options.logger.child({ component: "private-feed" });
  const sockets = new Map<string, UpbitSocket>();
  const reconciled: Record<string, number> = {};
  const iso = () => new Date(options.clock()).toISOString();

  const publish = (e: OrderEvent) =>
    options
      .publishEvent(e)
      .catch((err: unknown) => log.error({ err, event: e.id }, "order event not published"));

  const reconcile = async (account: string, keyId: string) => {
    for (let page = 1; page <= 50; page++) {
      const call = orderRequests.listOpenOrders(page);
      const grant = await options.sign(keyId, call);
      const orders = await options.api.listOpenOrders(grant, {
        deadlineMs: options.clock() + options.queueMs,
      });
      await Promise.all(orders.map((o) => publish(reconciledEvent(account, o, iso()))));
      if (orders.length < 100) break;
    }
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
  };
}
