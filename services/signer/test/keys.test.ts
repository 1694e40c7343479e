import assert from "node:assert/strict";
import { after, test } from "node:test";
import { KeyStore, loadKeyDir } from "../src/index.ts";
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
