# syntax=docker/dockerfile:1
# A lab agent: `hil agent` on a bench machine, with Debian's adb and fastboot, socat (virtual boards'
# PTYs) and udevadm (serial discovery reads USB identity through it). It runs as the unprivileged user
# `node`, a member of dialout (serial ports) and plugdev (USB devices under Debian's udev rules).
# Build from the repository root:
#   docker build -f docker/agent.Dockerfile -t hil-lab-agent .
# USB boards reach it through the host's /dev and /run/udev (docker/compose.yaml, service `agent`;
# docs/lab-admin.md). Its state (artifact cache, token file) lives in /var/lib/hil.
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

# What runs: the same packages as the server image, plus the board tools.
FROM ${NODE_IMAGE} AS agent
RUN apt-get update \
 && apt-get install -y --no-install-recommends adb fastboot socat udev aapt \
 && rm -rf /var/lib/apt/lists/* \
 && usermod --append --groups dialout,plugdev node
ENV NODE_ENV=production
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
COPY cli/package.json cli/
COPY --from=build /src/cli/dist/src cli/dist/src
COPY cli/bin cli/bin
RUN printf '#!/bin/sh\nexec node /app/cli/bin/hil.js "$@"\n' > /usr/local/bin/hil \
 && chmod 0755 /usr/local/bin/hil \
 && install -d -o node -g node -m 0700 /var/lib/hil /var/lib/hil/cache
USER node
VOLUME /var/lib/hil
# No HTTP port: the agent talks to Redis and fetches artifacts from the scheduler. Its liveness is its
# heartbeat in Redis (`hil boards` shows its boards offline when it stops).
HEALTHCHECK NONE
ENTRYPOINT ["node", "/app/cli/bin/hil.js"]
CMD ["agent", "--cache-dir", "/var/lib/hil/cache"]
