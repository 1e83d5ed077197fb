# syntax=docker/dockerfile:1
# The lab's server: `hil scheduler` (REST API, dispatcher, bookings, live logs, artifact store) with the
# dashboard at / on the same port. Build from the repository root:
#   docker build -f docker/server.Dockerfile -t hil-lab-server .
# Configuration is the scheduler's environment (scheduler/src/config.ts, docs/scheduler.md); the image
# sets only what a container needs to differ on: listen on every interface, keep artifacts in /data.
ARG NODE_IMAGE=node:20-bookworm-slim

# Production packages only. The compiler is there for native modules (serialport, usb) that have no
# prebuilt binary for the platform; it stays in this stage.
FROM ${NODE_IMAGE} AS deps
WORKDIR /src
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
COPY contracts/package.json contracts/
COPY lab-protocol/package.json lab-protocol/
COPY test-kit/package.json test-kit/
COPY device-profiles/package.json device-profiles/
COPY test-suites/package.json test-suites/
COPY scheduler/package.json scheduler/
COPY lab-agent/package.json lab-agent/
COPY dashboard/package.json dashboard/
COPY cli/package.json cli/
RUN npm ci --omit=dev --no-audit --no-fund

# Everything (TypeScript, esbuild), then `npm run build`: tsc -b and the dashboard's browser bundle.
FROM deps AS build
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.base.json ./
COPY contracts contracts
COPY lab-protocol lab-protocol
COPY test-kit test-kit
COPY device-profiles device-profiles
COPY test-suites test-suites
COPY scheduler scheduler
COPY lab-agent lab-agent
COPY dashboard dashboard
COPY cli cli
RUN npm run build

# What runs: compiled packages, their manifests (workspace links resolve through them), the profiles and
# suites the scheduler checks runs against, the dashboard bundle and the production node_modules.
FROM ${NODE_IMAGE} AS server
ENV NODE_ENV=production \
    HIL_HOST=0.0.0.0 \
    HIL_PORT=8080 \
    HIL_ARTIFACT_DIR=/data/artifacts
WORKDIR /app
COPY --from=deps /src/node_modules node_modules
COPY package.json ./
COPY contracts/package.json contracts/
COPY --from=build /src/contracts/dist/src contracts/dist/src
COPY lab-protocol/package.json lab-protocol/
COPY --from=build /src/lab-protocol/dist/src lab-protocol/dist/src
COPY device-profiles/package.json device-profiles/
COPY --from=build /src/device-profiles/dist/src device-profiles/dist/src
COPY device-profiles/profiles device-profiles/profiles
COPY test-suites/package.json test-suites/
COPY --from=build /src/test-suites/dist/src test-suites/dist/src
COPY test-suites/suites test-suites/suites
COPY scheduler/package.json scheduler/
COPY --from=build /src/scheduler/dist/src scheduler/dist/src
COPY lab-agent/package.json lab-agent/
COPY --from=build /src/lab-agent/dist/src lab-agent/dist/src
COPY dashboard/package.json dashboard/
COPY --from=build /src/dashboard/dist/src dashboard/dist/src
COPY --from=build /src/dashboard/dist/web dashboard/dist/web
COPY cli/package.json cli/
COPY --from=build /src/cli/dist/src cli/dist/src
COPY cli/bin cli/bin
# `hil` on the PATH, for `docker compose exec server hil tokens create …`
RUN printf '#!/bin/sh\nexec node /app/cli/bin/hil.js "$@"\n' > /usr/local/bin/hil \
 && chmod 0755 /usr/local/bin/hil \
 && install -d -o node -g node -m 0750 /data /data/artifacts
USER node
VOLUME /data
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:8080/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
ENTRYPOINT ["node", "/app/cli/bin/hil.js"]
CMD ["scheduler"]
