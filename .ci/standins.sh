#!/usr/bin/env bash
# Builds stand-ins for the official nats and postgres images from Debian packages,
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

if have_image "$nats_image" && have_image "$postgres_image"; then
  echo "standins: $nats_image and $postgres_image are current" >&2
else
  mirror=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
  [ -n "$mirror" ] || mirror=$(awk '/^deb / {print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)
  [ -n "$mirror" ] || { echo "standins: no Debian mirror found in /etc/apt" >&2; exit 1; }

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
fi

echo "export NATS_IMAGE=$nats_image"
echo "export POSTGRES_IMAGE=$postgres_image"
