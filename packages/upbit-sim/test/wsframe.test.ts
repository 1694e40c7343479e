import assert from "node:assert/strict";
import { test } from "node:test";
import * as ws from "ws";
import { binaryFrame } from "../src/wsframe.ts";

// ws's own frame parser (exported at runtime, absent from @types/ws).
interface ReceiverLike {
  on(event: "message", f: (data: Buffer, isBinary: boolean) => void): void;
  on(event: "error", f: (err: Error) => void): void;
  write(chunk: Buffer): void;
}
const Receiver = (ws as unknown as { Receiver: new (o: { isServer: boolean }) => ReceiverLike })
  .Receiver;

function decode(frame: Buffer): Promise<{ data: Buffer; isBinary: boolean }> {
  return new Promise((resolve, reject) => {
    const r = new Receiver({ isServer: false });
    r.on("message", (data: Buffer, isBinary: boolean) => resolve({ data, isBinary }));
    r.on("error", reject);
    r.write(frame);
  });
}

test("wsframe - pre-built frames decode as binary messages for small, 16-bit and 64-bit lengths", async () => {
  for (const n of [0, 5, 125, 126, 65_535, 65_536, 70_000]) {
    const payload = Buffer.alloc(n, 0x61);
    const got = await decode(binaryFrame(payload));
    assert.equal(got.isBinary, true);
    assert.equal(got.data.length, n);
  }
  const text = '{"type":"trade","code":"KRW-비트"}';
  const got = await decode(binaryFrame(text));
  assert.equal(got.data.toString("utf8"), text);
});
