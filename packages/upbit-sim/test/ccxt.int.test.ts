/**
 * A widely used third-party Upbit client, changed only to point at the simulator:
 * ccxt's REST client and ccxt.pro's WebSocket client.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import ccxt from "ccxt";
import { type Sim, startSim } from "../src/index.ts";
import { account } from "./helpers.ts";

let sim: Sim;
const a = account({ balances: { KRW: "500000000", BTC: "2" } });
// biome-ignore lint/suspicious/noExplicitAny: ccxt's exchange classes are loosely typed
let rest: any;
// biome-ignore lint/suspicious/noExplicitAny: ccxt's exchange classes are loosely typed
let pro: any;

before(async () => {
  sim = await startSim({
    seed: 21,
    markets: ["KRW-BTC", "KRW-ETH"],
    accounts: [a],
    tickIntervalMs: 20,
  });
  sim.admin.tick(30);
  const point = <T extends { urls: { api: Record<string, string> } }>(ex: T): T => {
    ex.urls.api = { ...ex.urls.api, public: sim.restUrl, private: sim.restUrl, ws: sim.wsUrl };
    return ex;
  };
  rest = point(new ccxt.upbit({ apiKey: a.accessKey, secret: a.secretKey, enableRateLimit: true }));
  pro = point(
    new ccxt.pro.upbit({ apiKey: a.accessKey, secret: a.secretKey, enableRateLimit: true }),
  );
  // ccxt needs its plain-HTTP agent loaded before it opens a ws:// (not wss://) URL.
  await pro.loadHttpProxyAgent();
});

after(async () => {
  await pro?.close();
  await sim.stop();
});

test("ccxt - REST: markets, ticker, order book, trades, candles, balance", async () => {
  const markets = await rest.loadMarkets();
  assert.ok(markets["BTC/KRW"]);
  const t = await rest.fetchTicker("BTC/KRW");
  assert.equal(t.symbol, "BTC/KRW");
  assert.ok(t.last > 0);
  const ob = await rest.fetchOrderBook("BTC/KRW");
  assert.equal(ob.asks.length, 30);
  assert.ok(ob.asks[0][0] > ob.bids[0][0]);
  const trades = await rest.fetchTrades("BTC/KRW", undefined, 10);
  assert.ok(trades.length > 0);
  assert.ok(trades[0].price > 0);
  const candles = await rest.fetchOHLCV("BTC/KRW", "1m", undefined, 5);
  assert.ok(candles.length >= 1);
  assert.equal(candles[0].length, 6);
  const bal = await rest.fetchBalance();
  assert.equal(bal.KRW.free, 500_000_000);
  assert.equal(bal.BTC.free, 2);
});

test("ccxt - REST: create, fetch and cancel a limit order; market buy and sell", async () => {
  await rest.loadMarkets();
  const limit = await rest.createOrder("BTC/KRW", "limit", "buy", 0.01, 50_000_000);
  assert.equal(limit.status, "open");
  const fetched = await rest.fetchOrder(limit.id);
  assert.equal(fetched.id, limit.id);
  assert.equal(fetched.price, 50_000_000);
  const open = await rest.fetchOpenOrders("BTC/KRW");
  assert.ok(open.some((o: { id: string }) => o.id === limit.id));
  await rest.cancelOrder(limit.id);
  const cancelled = await rest.fetchOrder(limit.id);
  assert.equal(cancelled.status, "canceled");
  // ccxt sends a market buy as ord_type "price" with cost = amount * price.
  const buy = await rest.createOrder("BTC/KRW", "market", "buy", 0.01, 100_000_000);
  const buyDone = await rest.fetchOrder(buy.id);
  assert.ok(buyDone.filled > 0);
  const sell = await rest.createOrder("BTC/KRW", "market", "sell", 0.005);
  const sellDone = await rest.fetchOrder(sell.id);
  assert.equal(sellDone.status, "closed");
  assert.equal(sellDone.filled, 0.005);
});

test("ccxt.pro - WebSocket: watch ticker, trades and order book", async () => {
  const t = await pro.watchTicker("BTC/KRW");
  assert.equal(t.symbol, "BTC/KRW");
  assert.ok(t.last > 0);
  const trades = await pro.watchTrades("BTC/KRW");
  assert.ok(trades.length > 0);
  assert.equal(trades[0].symbol, "BTC/KRW");
  const ob = await pro.watchOrderBook("BTC/KRW");
  assert.ok(ob.asks.length > 0 && ob.bids.length > 0);
  assert.ok(ob.asks[0][0] > ob.bids[0][0]);
});
