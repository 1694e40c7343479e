/**
 * deploy/k8s: both overlays render with `kubectl kustomize`, every object validates
 * against Kubernetes' OpenAPI schemas (kubernetes-models), and our own rules hold —
 * the keys Secret reaches the signer alone, every container is locked down with
 * limits and probes, every workload is covered by NetworkPolicies, and only
 * market-feed and order-exec reach the exchange.
 */
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { resolve } from "node:path";
import { describe, test } from "node:test";
import { parseAllDocuments } from "yaml";

const k8sDir = resolve(import.meta.dirname, "../k8s");
const KEYS_SECRET = "upline-signer-keys";
const OVERLAYS = ["dev", "prod"] as const;

// biome-ignore lint/suspicious/noExplicitAny: rendered manifests are checked field by field
type Obj = any;

function kubectl(): string {
  const found = spawnSync("sh", ["-c", "command -v kubectl"], { encoding: "utf8" });
  assert.equal(
    found.status,
    0,
    "kubectl is needed to render deploy/k8s (Debian: apt-get install kubernetes-client)",
  );
  return found.stdout.trim();
}

function render(overlay: string): Obj[] {
  const out = execFileSync(kubectl(), ["kustomize", resolve(k8sDir, "overlays", overlay)], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"],
  });
  return parseAllDocuments(out)
    .map((d) => d.toJS())
    .filter((o) => o !== null);
}

/** Validates against the OpenAPI schema of the object's apiVersion and kind. */
async function validate(obj: Obj): Promise<void> {
  const [group, version] = String(obj.apiVersion).includes("/")
    ? String(obj.apiVersion).split("/")
    : ["", obj.apiVersion];
  const path = `kubernetes-models/${group === "" ? "" : `${group}/`}${version}/${obj.kind}`;
  const mod = (await import(path)) as Record<string, new (o: Obj) => { validate(): void }>;
  const Model = mod[obj.kind] ?? mod.default;
  assert.ok(Model, `no model for ${obj.apiVersion} ${obj.kind}`);
  new Model(obj).validate();
}

const WORKLOADS = new Set(["Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob"]);
const workloads = (objs: Obj[]) => objs.filter((o) => WORKLOADS.has(o.kind));
const podSpec = (w: Obj): Obj => w.spec.template.spec;
const podLabels = (w: Obj): Record<string, string> => w.spec.template.metadata?.labels ?? {};

interface Requirement {
  key: string;
  operator: "In" | "NotIn" | "Exists" | "DoesNotExist";
  values?: string[];
}

/** Kubernetes label-selector semantics (matchLabels and matchExpressions). */
function selects(selector: Obj, labels: Record<string, string>): boolean {
  for (const [k, v] of Object.entries(selector?.matchLabels ?? {})) {
    if (labels[k] !== v) return false;
  }
  for (const e of (selector?.matchExpressions ?? []) as Requirement[]) {
    const has = Object.hasOwn(labels, e.key);
    const value = labels[e.key];
    const ok =
      e.operator === "In"
        ? has && (e.values ?? []).includes(value as string)
        : e.operator === "NotIn"
          ? !has || !(e.values ?? []).includes(value as string)
          : e.operator === "Exists"
            ? has
            : !has;
    if (!ok) return false;
  }
  return true;
}

function policiesFor(objs: Obj[], w: Obj, type: "Ingress" | "Egress"): Obj[] {
  return objs.filter(
    (o) =>
      o.kind === "NetworkPolicy" &&
      (o.spec.policyTypes ?? ["Ingress"]).includes(type) &&
      selects(o.spec.podSelector, podLabels(w)),
  );
}

/** Each egress rule that applies to the workload, flattened to (peer, ports). */
function egressOf(objs: Obj[], w: Obj): { peer: Obj; ports: Obj[]; policy: string }[] {
  return policiesFor(objs, w, "Egress").flatMap((p) =>
    (p.spec.egress ?? []).flatMap((rule: Obj) =>
      (rule.to ?? [{}]).map((peer: Obj) => ({
        peer,
        ports: rule.ports ?? [],
        policy: p.metadata.name,
      })),
    ),
  );
}

function secretsMounted(w: Obj): string[] {
  const names: string[] = [];
  for (const v of podSpec(w).volumes ?? []) {
    if (v.secret?.secretName) names.push(v.secret.secretName);
    for (const s of v.projected?.sources ?? []) if (s.secret?.name) names.push(s.secret.name);
  }
  for (const c of [...(podSpec(w).containers ?? []), ...(podSpec(w).initContainers ?? [])]) {
    for (const e of c.env ?? []) {
      if (e.valueFrom?.secretKeyRef?.name) names.push(e.valueFrom.secretKeyRef.name);
    }
    for (const e of c.envFrom ?? []) if (e.secretRef?.name) names.push(e.secretRef.name);
  }
  return names;
}

describe("deploy/k8s", () => {
  test("k8s - the schema validator refuses a malformed object (the check is real)", async () => {
    await assert.rejects(
      validate({
        apiVersion: "apps/v1",
        kind: "Deployment",
        metadata: { name: "x" },
        spec: { replicas: "two", selector: {}, template: {} },
      }),
    );
  });

  for (const overlay of OVERLAYS) {
    test(`k8s - overlay ${overlay} renders and every object validates against its schema`, async () => {
      const objs = render(overlay);
      assert.ok(objs.length > 20, `${overlay} renders the whole system`);
      for (const o of objs) {
        await validate(o).catch((err: unknown) => {
          throw new Error(`${o.kind}/${o.metadata?.name}: ${(err as Error).message}`);
        });
      }
      const names = new Set(workloads(objs).map((w) => w.metadata.name));
      for (const n of ["nats", "signer", "order-exec", "market-feed", "audit"]) {
        assert.ok(names.has(n), `${overlay} has ${n}`);
      }
      assert.equal(names.has("upbit-sim"), overlay === "dev", "the simulator is dev's alone");
      const nats = objs.find((o) => o.kind === "StatefulSet" && o.metadata.name === "nats");
      assert.equal(nats.spec.replicas, 3);
      const config = objs.find((o) => o.kind === "ConfigMap" && o.data?.STREAM_REPLICAS);
      assert.equal(config.data.STREAM_REPLICAS, "3", "streams and buckets replicate 3 times");
    });

    test(`k8s - ${overlay}: the signer is the only pod that mounts the keys Secret`, () => {
      const objs = render(overlay);
      const holders = workloads(objs)
        .filter((w) => secretsMounted(w).includes(KEYS_SECRET))
        .map((w) => w.metadata.name);
      assert.deepEqual(holders, ["signer"]);
    });

    test(`k8s - ${overlay}: every container is non-root, read-only, without privileges, with limits`, () => {
      for (const w of workloads(render(overlay))) {
        const pod = podSpec(w);
        for (const c of [...pod.containers, ...(pod.initContainers ?? [])]) {
          const where = `${w.metadata.name}/${c.name}`;
          const nonRoot = c.securityContext?.runAsNonRoot ?? pod.securityContext?.runAsNonRoot;
          const uid = c.securityContext?.runAsUser ?? pod.securityContext?.runAsUser;
          assert.equal(nonRoot, true, `${where} runAsNonRoot`);
          assert.ok(typeof uid === "number" && uid > 0, `${where} runs as a numeric non-root uid`);
          assert.equal(c.securityContext?.readOnlyRootFilesystem, true, `${where} read-only root`);
          assert.equal(
            c.securityContext?.allowPrivilegeEscalation,
            false,
            `${where} no escalation`,
          );
          assert.deepEqual(c.securityContext?.capabilities?.drop, ["ALL"], `${where} drops ALL`);
          assert.equal(c.securityContext?.privileged ?? false, false, `${where} not privileged`);
          assert.ok(c.resources?.limits?.cpu && c.resources?.limits?.memory, `${where} limits`);
          assert.ok(
            c.resources?.requests?.cpu && c.resources?.requests?.memory,
            `${where} requests`,
          );
        }
        for (const c of pod.containers) {
          const where = `${w.metadata.name}/${c.name}`;
          assert.ok(c.livenessProbe, `${where} has a liveness probe`);
          assert.ok(c.readinessProbe, `${where} has a readiness probe`);
        }
        assert.equal(pod.hostNetwork ?? false, false);
        assert.equal(
          pod.automountServiceAccountToken,
          false,
          `${w.metadata.name} has no API token`,
        );
      }
    });

    test(`k8s - ${overlay}: every workload is covered by NetworkPolicies and a disruption budget`, () => {
      const objs = render(overlay);
      for (const w of workloads(objs)) {
        const name = w.metadata.name;
        assert.ok(policiesFor(objs, w, "Ingress").length > 0, `${name}: ingress policy`);
        assert.ok(policiesFor(objs, w, "Egress").length > 0, `${name}: egress policy`);
        assert.ok(
          objs.some(
            (o) => o.kind === "PodDisruptionBudget" && selects(o.spec.selector, podLabels(w)),
          ),
          `${name}: PodDisruptionBudget`,
        );
      }
      const deny = objs.find(
        (o) => o.kind === "NetworkPolicy" && o.metadata.name === "default-deny",
      );
      assert.deepEqual(deny?.spec.podSelector, {}, "a default-deny policy selects every pod");
      assert.deepEqual([...deny.spec.policyTypes].sort(), ["Egress", "Ingress"]);
    });

    test(`k8s - ${overlay}: the signer reaches NATS only; only market-feed and order-exec reach the exchange`, () => {
      const objs = render(overlay);
      const byName = new Map(workloads(objs).map((w) => [w.metadata.name, w]));
      const isDns = (r: { peer: Obj; ports: Obj[] }) =>
        r.peer.podSelector?.matchLabels?.["k8s-app"] === "kube-dns" &&
        r.ports.every((p: Obj) => p.port === 53);
      const toNats = (r: { peer: Obj; ports: Obj[] }) =>
        r.peer.podSelector !== undefined &&
        r.peer.namespaceSelector === undefined &&
        selects(r.peer.podSelector, podLabels(byName.get("nats"))) &&
        r.ports.length > 0 &&
        r.ports.every((p: Obj) => p.port === 4222);
      const signerEgress = egressOf(objs, byName.get("signer"));
      for (const r of signerEgress) {
        assert.ok(isDns(r) || toNats(r), `signer egress via ${r.policy} goes only to NATS or DNS`);
      }
      assert.ok(signerEgress.some(toNats), "the signer reaches NATS");

      const exchange = (r: { peer: Obj; ports: Obj[] }) =>
        r.peer.ipBlock?.cidr === "0.0.0.0/0" ||
        r.ports.some((p: Obj) => p.port === 443) ||
        (r.peer.podSelector !== undefined &&
          byName.has("upbit-sim") &&
          selects(r.peer.podSelector, podLabels(byName.get("upbit-sim"))));
      for (const [name, w] of byName) {
        const reaches = egressOf(objs, w).some(exchange);
        assert.equal(
          reaches,
          name === "market-feed" || name === "order-exec",
          `${name} ${reaches ? "reaches" : "does not reach"} the exchange`,
        );
      }
    });
  }
});
