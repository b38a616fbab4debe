# syntax=docker/dockerfile:1
# kroute-agent: the node agent DaemonSet image (see deploy/helm/kroute).
#
# Node runs kroute's TypeScript sources directly (type stripping), so there is no
# compile step to ship: the build stage installs the workspace and typechecks it as
# a gate; the runtime stage gets production dependencies and the sources only.
# Workspace packages stay outside node_modules (pnpm links them), which Node's type
# stripping requires.
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
COPY packages/agent/package.json packages/agent/
COPY packages/sim/package.json packages/sim/

FROM workspace AS check
RUN pnpm install --frozen-lockfile --filter @kroute/agent...
COPY packages/ packages/
RUN pnpm exec tsc -p packages/agent/tsconfig.json --noEmit --composite false

FROM workspace AS production
# Only the agent and the workspace packages it depends on, without dev dependencies.
RUN pnpm install --frozen-lockfile --prod --filter @kroute/agent...
COPY packages/core/src packages/core/src
COPY packages/driver-fake/src packages/driver-fake/src
COPY packages/driver-netlink/src packages/driver-netlink/src
COPY packages/agent/src packages/agent/src

FROM ${NODE_IMAGE}
# Ties the image to a passing typecheck of the same sources.
COPY --from=check /src/package.json /tmp/checked-package.json
COPY --from=production /src /app
WORKDIR /app
ENV NODE_ENV=production
USER 0
ENTRYPOINT ["node", "/app/packages/agent/src/main.ts"]
