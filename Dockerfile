# syntax=docker/dockerfile:1
# The pg-retention worker (and CLI) image: the runner compiled to JavaScript (make build's
# tsconfig.build.json; stripping types at start would cost the worker about 30 MB
# resident) and the production dependencies.
#   docker build -t pg-retention .
#   docker run -e DATABASE_URL=postgres://... -p 9187:9187 pg-retention            # worker
#   docker run -e DATABASE_URL=postgres://... pg-retention migrate                 # any command

FROM node:24-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
# No install scripts: only the embedded PostgreSQL of the tests has one, and it is a
# development dependency.
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force

FROM node:24-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY runner ./runner
RUN npx tsc -p tsconfig.build.json

FROM node:24-slim
ENV NODE_ENV=production \
    PG_RETENTION_HTTP_PORT=9187
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY package.json ./
COPY --from=build /app/dist/runner ./runner
COPY sql ./sql
COPY migrations ./migrations
# Numeric, so a kubelet can check runAsNonRoot (the node user of the node image is 1000).
USER 1000:1000
EXPOSE 9187
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + process.env.PG_RETENTION_HTTP_PORT + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
ENTRYPOINT ["node", "runner/cli.js"]
CMD ["worker"]
