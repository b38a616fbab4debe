# syntax=docker/dockerfile:1
# kroute-agent: the node agent DaemonSet image (see deploy/helm/kroute).
#
# The image ships the agent as one bundle (packages/agent/src/deploy/bundle.ts): no
# type stripping at start, and only the parts of the Kubernetes client the agent
# uses, which keeps it far smaller in memory than running the TypeScript sources. The
# build stage installs the workspace, typechecks it as a gate and bundles; the runtime
# stage gets the bundle and the one dependency left outside it, koffi (its native
# addon is found in node_modules at run time).
#
# The agent runs as root with only NET_ADMIN and NET_RAW (the DaemonSet drops every
# other capability and makes the root filesystem read-only): routes, rules, nexthops
# and ICMP probes need those capabilities in the node's network namespace, and a
# non-root user would need file capabilities on the node binary instead, which a
# read-only image with `allowPrivilegeEscalation: false` cannot grant.

ARG NODE_IMAGE=node:24-bookworm-slim

FROM ${NODE_IMAGE} AS workspace
WORKDIR /src
RUN corepack enable
COPY package.json pnpm-lock.yaml pnpm-workspace.yaml tsconfig.json tsconfig.base.json ./
COPY packages/core/package.json packages/core/
COPY packages/driver-fake/package.json packages/driver-fake/
COPY packages/driver-netlink/package.json packages/driver-netlink/
COPY packages/testkit/package.json packages/testkit/
COPY packages/lab/package.json packages/lab/
COPY packages/agent/package.json packages/agent/
COPY packages/sim/package.json packages/sim/

FROM workspace AS build
RUN pnpm install --frozen-lockfile --filter @kroute/agent...
COPY packages/ packages/
# tsc -b: the agent's project references its workspace packages, whose declarations
# `tsc -p` would only read, never build (TS6305 from a clean context).
RUN pnpm exec tsc -b packages/agent/tsconfig.json \
 && pnpm --filter @kroute/agent build \
 && mkdir /koffi \
 && cp -rL node_modules/.pnpm/koffi@*/node_modules/. /koffi/
# /koffi: koffi as the lockfile installed it, with its native addon for this
# platform beside it, symlinks resolved.

FROM ${NODE_IMAGE}
COPY --from=build /koffi /app/node_modules
COPY --from=build /src/packages/agent/dist /app/dist
WORKDIR /app
ENV NODE_ENV=production
USER 0
ENTRYPOINT ["node", "/app/dist/kroute-agent.js"]
