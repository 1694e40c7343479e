/**
 * Pre-framing: an unmasked RFC 6455 binary frame (header + payload) built once
 * per event and written as-is to every subscriber's socket, so fan-out costs one
 * socket write per subscriber and no per-subscriber framing.
 */
export function binaryFrame(payload: Buffer | string): Buffer {
  const n = typeof payload === "string" ? Buffer.byteLength(payload) : payload.length;
  const head = n < 126 ? 2 : n < 65_536 ? 4 : 10;
  const out = Buffer.allocUnsafe(head + n);
  out[0] = 0x82; // FIN + opcode 2 (binary)
  if (n < 126) out[1] = n;
  else if (n < 65_536) {
    out[1] = 126;
    out.writeUInt16BE(n, 2);
  } else {
    out[1] = 127;
    out.writeUInt32BE(Math.floor(n / 2 ** 32), 2);
    out.writeUInt32BE(n >>> 0, 6);
  }
  if (typeof payload === "string") out.write(payload, head, "utf8");
  else payload.copy(out, head);
  return out;
}
