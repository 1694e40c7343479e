import assert from "node:assert/strict";
import { test } from "node:test";
import { streamSequenceFromReply } from "../src/app.ts";

// The two ack-subject shapes nats.js's `info` reads (jsmsg.js parseInfo):
// v1 $JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<dseq>.<ts>.<pending>
// v2 $JS.ACK.<domain>.<account hash>.<stream>.<consumer>.<delivered>.<sseq>.<dseq>.<ts>.<pending>[.<token>…]
test("delivery - the stream sequence is the sseq token of either ack-subject shape", () => {
  const cases: [string, number | undefined][] = [
    ["$JS.ACK.AUDIT.audit-store.1.42.7.1732250000000000000.9", 42],
    ["$JS.ACK.AUDIT.audit-store.3.9007199254740991.8.1732250000000000000.0", 9007199254740991],
    ["$JS.ACK._.ACCHASH.AUDIT.audit-store.2.1234.99.1732250000000000000.5", 1234],
    ["$JS.ACK.hub.ACCHASH.AUDIT.audit-store.1.77.5.1732250000000000000.0.Rnd0m", 77],
    // delivered, dseq and pending differ from sseq: the right token is read
    ["$JS.ACK.S.C.5.6.7.8.9", 6],
    // not an ack subject, or a shape nats.js refuses: no answer (the caller asks `info`)
    ["_INBOX.abc.def", undefined],
    ["$JS.ACK.S.C.1.2.3.4", undefined],
    ["$JS.ACK.S.C.1.2.3.4.5.6", undefined],
    ["$JS.ACK.S.C.1.x2.3.4.5", undefined],
    ["$JS.ACK.S.C.1..3.4.5", undefined],
    ["$JS.ACK.S.C.1.0.3.4.5", undefined],
    ["$JS.ACK.S.C.1.-2.3.4.5", undefined],
    ["$JS.ACK.S.C.1.99999999999999999999.3.4.5", undefined],
    ["", undefined],
  ];
  for (const [reply, want] of cases) assert.equal(streamSequenceFromReply(reply), want, reply);
});
