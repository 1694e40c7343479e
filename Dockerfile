# One image per upline service, from one Dockerfile:
#   docker build --build-arg SERVICE=signer -t upline/signer .
# SERVICE: signer | audit | market-feed | order-exec | upbit-sim
# NODE_IMAGE: the Node 24 base (CI passes its stand-in, localhost/upline-standin/node:24).
#
# Node runs our TypeScript directly (type stripping), which Node refuses for files under
# node_modules. `pnpm deploy` copies workspace packages into node_modules, so instead
# the image keeps the workspace layout (packages/*, services/* beside one node_modules)
# with only the one service, its workspace packages and their production dependencies.
# Layers: dependencies change with the manifests only; a source change rebuilds one
# small layer.
ARG NODE_IMAGE=node:24-slim

FROM ${NODE_IMAGE} AS base
ARG PNPM_VERSION=10.34.9
ENV CI=true PNPM_HOME=/pnpm NODE_ENV=production
RUN command -v pnpm >/dev/null 2>&1 || npm install -g --no-audit --no-fund "pnpm@${PNPM_VERSION}"
RUN pnpm config set store-dir /pnpm/store

# The whole context, once; later stages take what they need from here.
FROM base AS context
WORKDIR /src
COPY . .
RUN mkdir /manifests && find . -name node_modules -prune -o \( -name package.json -o -name pnpm-lock.yaml -o -name pnpm-workspace.yaml -o -name .npmrc \) -type f -print \
    | xargs -I{} cp --parents {} /manifests/

# Dependencies of the one service, from the manifests alone.
FROM base AS deps
ARG SERVICE
RUN test -n "${SERVICE}" || { echo "build argument SERVICE is required (signer|audit|market-feed|order-exec|upbit-sim)" >&2; exit 1; }
WORKDIR /src
COPY --from=context /manifests/ ./
RUN --mount=type=cache,id=upline-pnpm-store,target=/pnpm/store \
    pnpm install --frozen-lockfile --prod --ignore-scripts --filter-prod "@upline/${SERVICE}..." >/dev/null \
 && mkdir -p /app \
 && cp -a package.json node_modules /app/ \
 && for dir in $(pnpm --filter-prod "@upline/${SERVICE}..." exec pwd); do \
      rel=${dir#/src/}; mkdir -p "/app/$rel"; cp -a "$dir/." "/app/$rel/"; echo "$rel" >>/app/.workspace-packages; \
      if [ "$(node -p "require('$dir/package.json').name")" = "@upline/${SERVICE}" ]; then ln -s "$rel" /app/service; fi; \
    done \
 && test -L /app/service

# The sources of exactly those packages.
FROM base AS sources
COPY --from=deps /app/.workspace-packages /workspace-packages
COPY --from=context /src /src
RUN mkdir -p /app && cd /src && for rel in $(cat /workspace-packages); do \
      mkdir -p "/app/$rel" && cp -a "$rel/src" "/app/$rel/"; \
    done \
 && cp deploy/docker/healthcheck.mjs /app/healthcheck.mjs \
 && test -e "/app/$(grep -x 'services/.*\|packages/upbit-sim' /workspace-packages | tail -n 1)/src/main.ts"

FROM ${NODE_IMAGE} AS runtime
# The one writable place besides /tmp, for a volume (audit: its generated checkpoint key).
RUN mkdir -p /var/lib/upline && chown 1000:1000 /var/lib/upline
ARG SERVICE
ENV NODE_ENV=production UPLINE_SERVICE=${SERVICE} HEALTH_PORT=8080
# Owned by root and read-only to the service's user: the root file system can be mounted read-only.
COPY --from=deps /app /app
COPY --from=sources /app /app
WORKDIR /app/service
USER 1000:1000
HEALTHCHECK --interval=5s --timeout=3s --start-period=30s --retries=3 CMD ["node", "/app/healthcheck.mjs"]
LABEL org.opencontainers.image.title="upline-${SERVICE}" org.opencontainers.image.source="https://github.com/upline/upline"
CMD ["node", "src/main.ts"]
