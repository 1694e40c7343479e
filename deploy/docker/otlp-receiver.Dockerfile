# CI's stand-in for the OpenTelemetry Collector image (see deploy/compose/otlp-file-receiver.mjs):
#   docker build -f deploy/docker/otlp-receiver.Dockerfile --build-arg NODE_IMAGE=... -t upline/otlp-file-receiver .
ARG NODE_IMAGE=node:24-slim
FROM ${NODE_IMAGE}
COPY deploy/compose/otlp-file-receiver.mjs /app/otlp-file-receiver.mjs
USER 1000:1000
ENTRYPOINT ["node", "/app/otlp-file-receiver.mjs"]
