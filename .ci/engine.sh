#!/usr/bin/env bash
# Makes a Docker-API container engine available at $DOCKER_HOST: podman with runc,
# served on a unix socket (see shared/notes/containers.md for why runc and the
# empty ulimit list), plus the tools the deployment tests drive: debootstrap
# (stand-in images), kubectl (kustomize rendering) and docker-compose (the
# smoke test). Idempotent: tools are installed only when missing, and an
# engine that already answers is left alone.
set -euo pipefail

sock=/run/podman/podman.sock
export DOCKER_HOST="unix://$sock"

engine_answers() {
  command -v podman >/dev/null 2>&1 && [ -S "$sock" ] &&
    curl -fsS --unix-socket "$sock" http://d/_ping >/dev/null 2>&1
}

# Install only what is missing: a machine may already carry one of these tools
# from another package (kubectl from a cloud SDK, say), and Debian's package of
# the same tool would then refuse to overwrite it.
need=()
command -v podman >/dev/null 2>&1 || need+=(podman uidmap slirp4netns fuse-overlayfs)
command -v runc >/dev/null 2>&1 || need+=(runc)
command -v debootstrap >/dev/null 2>&1 || need+=(debootstrap)
command -v curl >/dev/null 2>&1 || need+=(curl)
command -v kubectl >/dev/null 2>&1 || need+=(kubernetes-client)
command -v docker-compose >/dev/null 2>&1 || need+=(docker-compose)
if [ ${#need[@]} -gt 0 ]; then
  echo "engine: installing ${need[*]} from Debian"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi

if engine_answers; then
  echo "engine: podman already serving $DOCKER_HOST"
  exit 0
fi

mkdir -p /etc/containers
cat > /etc/containers/containers.conf <<'CONF'
[containers]
default_ulimits = []

[engine]
runtime = "runc"
CONF

mkdir -p /run/podman
pkill -f "podman system service" 2>/dev/null || true
rm -f "$sock"
nohup podman system service --time=0 "unix://$sock" >/tmp/podman-service.log 2>&1 &

for _ in $(seq 1 100); do
  if engine_answers; then
    echo "engine: podman $(podman --version | awk '{print $3}') serving $DOCKER_HOST"
    exit 0
  fi
  sleep 0.1
done
echo "engine: podman did not answer on $sock; its log:" >&2
cat /tmp/podman-service.log >&2
exit 1
