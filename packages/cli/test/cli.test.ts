import assert from "node:assert/strict";
import { test } from "node:test";
import type { OrderEvent } from "@upline/shared";
import {
  exitCodeFor,
  intentFromFlags,
  latestPerOrder,
  newClientOrderId,
  runCli,
  table,
} from "../src/index.ts";
import { recordingIo } from "./helpers.ts";

test("cli order place - flags become a valid intent; buy/sell are aliases of bid/ask", () => {
  const intent = intentFromFlags(
    {
      market: "KRW-BTC",
      side: "buy",
      price: "90000000",
      volume: "0.0001",
      "client-order-id": "c-1",
    },
    "main",
  );
  assert.deepEqual(intent, {
    client_order_id: "c-1",
    account: "main",
    market: "KRW-BTC",
    side: "bid",
    ord_type: "limit",
    price: "90000000",
    volume: "0.0001",
  });
  const sell = intentFromFlags(
    { market: "KRW-ETH", side: "sell", type: "market", volume: "1" },
    "acct",
  );
  assert.equal(sell.side, "ask");
  assert.equal(sell.account, "acct");
  assert.match(sell.client_order_id, /^cli-[a-z0-9]+-[0-9a-f]{8}$/);
});

test("cli order place - an incomplete or wrong order is a usage error naming the flag", () => {
  assert.throws(() => intentFromFlags({ market: "KRW-BTC", side: "bid", volume: "1" }, "main"), {
    name: "UsageError",
    message: /--price: required for a limit order/,
  });
  assert.throws(
    () => intentFromFlags({ market: "btc", side: "bid" }, "main"),
    /not an Upbit market code/,
  );
  assert.throws(() => intentFromFlags({ market: "KRW-BTC", side: "long" }, "main"), /--side/);
  assert.throws(
    () => intentFromFlags({ market: "KRW-BTC", side: "bid", price: "1.5.2", volume: "1" }, "main"),
    /--price/,
  );
});

test("cli - generated client order ids are valid Upbit identifiers and distinct", () => {
  const ids = new Set(Array.from({ length: 100 }, () => newClientOrderId()));
  assert.equal(ids.size, 100);
  for (const id of ids) assert.match(id, /^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$/);
});

test("cli order list - folds events per order across client id and uuid, last state wins", () => {
  const e = (over: Partial<OrderEvent>): OrderEvent => ({
    id: `${Math.random()}`,
    type: "accepted",
    ts: "2026-01-01T00:00:00Z",
    account: "main",
    market: "KRW-BTC",
    ...over,
  });
  const folded = latestPerOrder([
    e({ type: "accepted", client_order_id: "a", uuid: "u-a", price: "100" }),
    e({ type: "accepted", client_order_id: "b", uuid: "u-b" }),
    e({ type: "partially_filled", uuid: "u-a", executed_volume: "0.1" }),
    e({ type: "filled", uuid: "u-b" }),
  ]);
  assert.equal(folded.length, 2);
  const a = folded.find((o) => o.client_order_id === "a");
  assert.equal(a?.type, "partially_filled");
  assert.equal(a?.price, "100");
  assert.equal(a?.executed_volume, "0.1");
  assert.equal(folded.find((o) => o.client_order_id === "b")?.type, "filled");
});

test("cli - exit codes: unreachable 3, configuration 2, refusals 1", () => {
  assert.equal(exitCodeFor("BUS_UNAVAILABLE"), 3);
  assert.equal(exitCodeFor("BUS_TIMEOUT"), 3);
  assert.equal(exitCodeFor("BUS_NO_RESPONDERS"), 3);
  assert.equal(exitCodeFor("CONFIG_INVALID"), 2);
  assert.equal(exitCodeFor("ORDER_TRADING_HALTED"), 1);
  assert.equal(exitCodeFor("SIGNER_NOT_ADMIN"), 1);
});

test("cli - usage errors exit 2 before anything is contacted", async () => {
  const cases: string[][] = [
    ["trading", "halt"],
    ["trading", "halt", "--reason", "   "],
    ["feed", "watch"],
    ["feed", "watch", "btc"],
    ["order", "place", "--market", "KRW-BTC"],
    ["order", "get"],
    ["order", "cancel", "--all", "--uuid", "x"],
    ["keys", "revoke"],
    ["status", "--bogus"],
  ];
  for (const argv of cases) {
    const io = recordingIo({ NATS_URL: "nats://127.0.0.1:1" });
    assert.equal(await runCli(argv, io), 2, `${argv.join(" ")}: ${io.stderr()}`);
    assert.match(io.stderr(), /usage: upline/, argv.join(" "));
  }
});

test("cli keys - a missing operator key file is a configuration error that says what to set", async () => {
  const io = recordingIo({ NATS_URL: "nats://127.0.0.1:1" });
  assert.equal(await runCli(["keys", "list"], io), 2);
  assert.match(io.stderr(), /UPLINE_OPERATOR_KEY_FILE is not set/);
});

test("cli - the help lists every command and the exit codes", async () => {
  const io = recordingIo();
  assert.equal(await runCli(["--help"], io), 0);
  for (const c of [
    "order place",
    "trading halt",
    "feed watch",
    "keys rotate",
    "status",
    "sim",
    "audit verify",
  ])
    assert.match(io.stdout(), new RegExp(c));
  assert.match(io.stdout(), /exit codes: 0 ok, 1 failed or refused, 2 usage or configuration, 3/);
});

test("cli output - tables align columns", () => {
  assert.equal(
    table([
      ["a", "bbb", "c"],
      ["dddd", undefined, "e"],
    ]),
    "a     bbb  c\ndddd  -    e\n",
  );
});
