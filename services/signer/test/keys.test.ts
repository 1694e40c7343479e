import assert from "node:assert/strict";
import { after, test } from "node:test";
import { KeyStore, loadKeyDir, parseKeyFile } from "../src/index.ts";
import { parseRevocation, revokedKey } from "../src/revocations.ts";
import { keyFile, tempDirs } from "./fixtures.ts";

const dirs = tempDirs();
after(() => dirs.cleanup());

test("signer - a key file readable by group or others (0644) is refused with a clear error", async () => {
  dirs.writeKey("open.json", keyFile({ key_id: "open" }), 0o644);
  dirs.writeKey("closed.json", keyFile({ key_id: "closed" }), 0o600);
  const { keys, problems } = await loadKeyDir(dirs.keysDir);
  assert.deepEqual(
    keys.map((k) => k.keyId),
    ["closed"],
  );
  assert.equal(problems.length, 1);
  assert.equal(problems[0]?.code, "SIGNER_KEY_FILE_INVALID");
  assert.match(problems[0]?.message ?? "", /open\.json: mode 0644 .*chmod 0600/);
  dirs.removeKey("open.json");
});

test("signer - a malformed key file is refused without echoing its content", async () => {
  dirs.writeKey("bad.json", { ...keyFile({ key_id: "bad" }), scopes: "nope" } as never);
  const { problems } = await loadKeyDir(dirs.keysDir);
  const msg = problems.map((p) => p.message).join("\n");
  assert.match(msg, /bad\.json: not a key file \(scopes/);
  assert.doesNotMatch(msg, /sk-/);
  dirs.removeKey("bad.json");
});

test("signer - a new version becomes active, the old one retires after the grace period", async () => {
  const store = new KeyStore(60_000);
  const v1 = keyFile({ key_id: "rot", version: 1 });
  const v2 = keyFile({ key_id: "rot", version: 2 });
  dirs.writeKey("rot-1.json", v1);
  let loaded = await loadKeyDir(dirs.keysDir);
  store.apply(loaded.keys, 0);
  const first = store.lookup("rot", undefined, 0);
  assert.ok(first.ok && first.key.accessKey === v1.access_key);

  dirs.writeKey("rot-2.json", v2);
  loaded = await loadKeyDir(dirs.keysDir);
  const changes = store.apply(loaded.keys, 1_000);
  assert.ok(changes.some((c) => c.kind === "rotated" && c.keyId === "rot" && c.version === 2));
  const now = store.lookup("rot", undefined, 1_000);
  assert.ok(now.ok && now.key.accessKey === v2.access_key);
  assert.ok(
    store.lookup("rot", 1, 30_000).ok,
    "the old version may be pinned during the grace period",
  );
  assert.equal(
    store.list(30_000).find((k) => k.key_id === "rot" && k.version === 1)?.status,
    "retiring",
  );

  assert.deepEqual(
    store.sweep(61_000).map((c) => `${c.kind} ${c.keyId}@${c.version}`),
    ["retired rot@1"],
  );
  assert.equal(store.lookup("rot", 1, 61_000).ok, false);
  dirs.removeKey("rot-1.json");
  dirs.removeKey("rot-2.json");
});

test("signer - a revoked key is refused at once and a removed file is refused on reload", async () => {
  const store = new KeyStore(60_000);
  dirs.writeKey("rev.json", keyFile({ key_id: "rev" }));
  store.apply((await loadKeyDir(dirs.keysDir)).keys, 0);
  assert.equal(store.revoke("rev", undefined, 1), 1);
  assert.equal(store.lookup("rev", undefined, 2).ok, false);
  assert.equal(store.list(2).find((k) => k.key_id === "rev")?.status, "revoked");
  dirs.removeKey("rev.json");
  const changes = store.apply((await loadKeyDir(dirs.keysDir)).keys, 3);
  assert.ok(changes.some((c) => c.kind === "removed" && c.keyId === "rev"));
});

test("signer - keys near not_after are reported as expiring, expired keys are refused", async () => {
  const store = new KeyStore(0);
  const now = Date.parse("2026-11-01T00:00:00Z");
  dirs.writeKey("exp.json", keyFile({ key_id: "exp", not_after: "2026-11-20T00:00:00Z" }));
  store.apply((await loadKeyDir(dirs.keysDir)).keys, now);
  assert.deepEqual(
    store.expiring(now, 30 * 86_400_000).map((k) => k.keyId),
    ["exp"],
  );
  assert.deepEqual(store.expiring(now, 10 * 86_400_000), []);
  assert.equal(store.lookup("exp", undefined, Date.parse("2026-11-20T00:00:01Z")).ok, false);
  dirs.removeKey("exp.json");
});

test("signer - a revocation lifted by its source leaves the others; one not loaded yet holds when it loads", async () => {
  const store = new KeyStore(60_000);
  const v1 = parseKeyFile(keyFile({ key_id: "lift", version: 1 }), "v1");
  const v2 = parseKeyFile(keyFile({ key_id: "lift", version: 2 }), "v2");
  store.apply([v1], 0);
  assert.equal(store.revoke("lift", 2, 1, "signer.revoked.lift.v2"), 0);
  store.revoke("lift", undefined, 1, "signer.revoked.lift");
  store.revoke("lift", undefined, 1, "local:signer.revoked.lift");
  store.apply([v1, v2], 2);
  assert.equal(store.lookup("lift", undefined, 3).ok, false);
  assert.equal(store.unrevoke("signer.revoked.lift", 4), true);
  assert.equal(store.lookup("lift", undefined, 4).ok, false, "the local source still refuses it");
  assert.equal(store.unrevoke("local:signer.revoked.lift", 5), true);
  const active = store.lookup("lift", undefined, 5);
  assert.ok(active.ok && active.key.version === 1, "v2 stays revoked, v1 is active");
  assert.equal(store.lookup("lift", 2, 5).ok, false);
  assert.equal(store.unrevoke("signer.revoked.lift.v2", 6), true);
  assert.equal(store.unrevoke("signer.revoked.lift.v2", 6), false);
  const back = store.lookup("lift", undefined, 6);
  assert.ok(back.ok && back.key.version === 2);
});

test("signer - revocation entries: names and values read fail closed", () => {
  const at = new Date(0).toISOString();
  const enc = (v: unknown) =>
    new TextEncoder().encode(typeof v === "string" ? v : JSON.stringify(v));
  assert.equal(revokedKey("main", undefined), "signer.revoked.main");
  assert.equal(revokedKey("main", 3), "signer.revoked.main.v3");
  assert.deepEqual(parseRevocation("signer.revoked.main", enc({ at, by: "op" })), {
    keyId: "main",
    version: undefined,
  });
  assert.deepEqual(parseRevocation("signer.revoked.main.v3", enc({ version: 3, at, by: "op" })), {
    keyId: "main",
    version: 3,
  });
  const all = (name: string, value: Uint8Array) => {
    const r = parseRevocation(name, value);
    assert.equal(r?.keyId, "main", name);
    assert.equal(r?.version, undefined, name);
    assert.ok(r?.unreadable, name);
  };
  all("signer.revoked.main.v3", enc("{not json"));
  all("signer.revoked.main.v3", enc({ at, by: "op" }));
  all("signer.revoked.main.v3", enc({ version: 4, at, by: "op" }));
  all("signer.revoked.main", enc({ version: 1, at, by: "op" }));
  all("signer.revoked.main", enc({ at, by: "op", extra: true }));
  all("signer.revoked.main", enc({ at: "yesterday", by: "op" }));
  all("signer.revoked.main.x", enc({ at, by: "op" }));
  all("signer.revoked.main.v3.x", enc({ version: 3, at, by: "op" }));
  all("signer.revoked.main", new Uint8Array([0xff, 0xfe]));
  assert.equal(parseRevocation("trading", enc({ at, by: "op" })), undefined);
});
