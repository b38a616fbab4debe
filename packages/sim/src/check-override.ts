/**
 * The default-route override invariant: under an override of the main table's default
 * route, protected addresses and replies from the node's own addresses on the original
 * interface must keep the original gateway, during an apply as well as after it. So must
 * a protected address that one of kroute's narrower main-table routes holds (a Route's
 * 0.0.0.0/1 and 128.0.0.0/1, a /8 holding the API server): a default route would carry
 * it otherwise; and so must those replies under a Route's own half of the address space,
 * which takes all that the default route carried in it.
 */
import {
  coversDefault,
  defaultRouteFamily,
  type EventOf,
  familyOf,
  type IpAddr,
  isDefaultHalf,
  type KernelRoute,
  type LookupResult,
  type Op,
  type OpResult,
  prefixLength,
} from "@kroute/core";
import type { FakeKernel } from "@kroute/driver-fake";
import { formatOp } from "./format.ts";
import type { OwnedMirror } from "./mirror.ts";
import { addressesView, type ProtectedView, protectedAddresses, protectedView } from "./protected-view.ts";

type Host = EventOf<"host/observed">;

/**
 * Which of the owned default routes and halves (mirror.ts) override the node's default:
 * a half of a split override, not a Route's own 0.0.0.0/1 (core isOverrideRoute).
 */
export type OverrideTest = (route: KernelRoute) => boolean;

/**
 * Destinations used to check that replies from the node's own addresses keep the
 * original gateway under a default-route override, in order of preference: the first
 * that no route of main narrower than /1 holds. Such a route takes the replies to its
 * addresses by design (main's routes longer than /1 are looked up before the reply
 * rules), so a Route of the operator's own for 192.0.2.0/24 would otherwise read as
 * replies taken by the override. Documentation prefixes, which real Routes seldom hold.
 */
const REPLY_PROBES: Record<4 | 6, readonly IpAddr[]> = {
  4: ["192.0.2.1", "198.51.100.1", "203.0.113.1"] as IpAddr[],
  6: ["2001:db8::1", "3fff::1"] as IpAddr[],
};

/** The same, inside each half of the address space, for a Route's own half. */
const HALF_REPLY_PROBE: Readonly<Record<string, IpAddr>> = {
  "0.0.0.0/1": "64.0.0.1" as IpAddr,
  "128.0.0.0/1": "192.0.2.1" as IpAddr,
  "::/1": "2001:db8::1" as IpAddr,
  "8000::/1": "c000::1" as IpAddr,
};

/** The reply probes as a view, to ask whether a route holds one (mayChangeOverrideAnswer). */
const replyProbes = addressesView([
  ...REPLY_PROBES[4],
  ...REPLY_PROBES[6],
  ...Object.values(HALF_REPLY_PROBE),
]);

/**
 * Whether an op can change an answer of overrideProblems: a nexthop or rule op (a route
 * through the nexthop, or a reply sent by the rule, can move), or a route op whose route
 * covers the default or holds an address the check looks up: a protected address, or a
 * reply probe (a route to 64.0.0.0/24 can take the node's replies into a Route's own
 * half, though it holds no protected address). Any other route op leaves every lookup
 * where it was.
 */
export function mayChangeOverrideAnswer(op: Op, host: Host | undefined): boolean {
  if (op.object !== "route") return true;
  const view = protectedView(host);
  const moves = (route: KernelRoute) =>
    coversDefault(route.dst) || view.holds(route) || replyProbes.holds(route);
  // A replace is checked on both sides: the kernel's route at the key goes as well.
  return (op.action !== "add" && moves(op.from)) || (op.action !== "delete" && moves(op.to));
}

/**
 * Whether a batch writes a default route or half of one (an override split in halves,
 * see core override.ts), or a route that holds a protected address: one that can move
 * where a protected address goes.
 */
export function touchesProtectedRoute(ops: readonly Op[], host: Host | undefined): boolean {
  const view = protectedView(host);
  return ops.some((op) => {
    if (op.object !== "route") return false;
    const route = op.action === "delete" ? op.from : op.to;
    return coversDefault(route.dst) || view.holds(route);
  });
}

/**
 * SPEC §3 item 5 orders an override: protected host routes and the reply rule first,
 * then the override; so when a batch touches a default route, the override check runs
 * after every op of it, not only after the batch. Returns the kernel's answers and the
 * problems seen mid-batch that the settled kernel no longer shows (those it still
 * shows are the after-batch check's to report).
 */
export function applyWatchingOverride(
  kernel: FakeKernel,
  ops: readonly Op[],
  host: Host | undefined,
  owned: OwnedMirror,
  isOverride: OverrideTest,
  /** kroute's metric: its routes' keys (routeKey) carry it. */
  metric: number,
  /** The facts before this step's `host/observed`: mid-batch, their original gateway still counts. */
  hostBefore?: Host,
): { answers: OpResult[]; problems: string[] } {
  const answers: OpResult[] = [];
  const transient = new Map<string, string>();
  const view = protectedView(host);
  for (const op of ops) {
    answers.push(...kernel.applySync([op]));
    if (!mayMoveProtected(op, view)) continue;
    for (const [subject, problem] of overrideProblems(kernel, host, owned, isOverride, metric, hostBefore)) {
      if (!transient.has(subject))
        transient.set(subject, `${problem} during the apply, after "${formatOp(op)}"`);
    }
  }
  const settled = overrideProblems(kernel, host, owned, isOverride, metric);
  const problems: string[] = [];
  for (const [subject, problem] of transient) if (!settled.has(subject)) problems.push(problem);
  return { answers, problems };
}

/**
 * The override's problems now, by subject (an address), so a batch can report each
 * subject once.
 */
export function overrideProblems(
  kernel: FakeKernel,
  host: Host | undefined,
  owned: OwnedMirror,
  isOverride: OverrideTest,
  metric: number,
  hostBefore?: Host,
): Map<string, string> {
  const problems = new Map<string, string>();
  if (host === undefined) return problems;
  for (const route of owned.defaultRoutes.values()) {
    // Only the main table decides where the node's own traffic goes by default.
    if (route.table !== 254) continue;
    const override = isOverride(route);
    if (!override && !isDefaultHalf(route.dst)) continue;
    const family = route.family;
    const original = originalDefault(host, family);
    if (original === undefined) continue;
    const previous = hostBefore !== undefined ? originalDefault(hostBefore, family)?.via : undefined;
    const keepsOriginal = (gateway: IpAddr | undefined) =>
      gateway === undefined || gateway === original.via || gateway === previous;
    const protectedOfFamily = protectedAddresses(host).filter((a) => familyOf(a) === family);
    const describe = (answer: LookupResult): string =>
      answer.ok ? `via ${answer.gateway ?? `dev ${answer.dev}`}` : answer.message;
    if (!override) {
      halfReplyProblems(kernel, host, route, original, keepsOriginal, describe, problems);
      continue;
    }
    for (const address of protectedOfFamily) {
      const answer = kernel.lookupSync({ dst: address });
      // A directly connected address is not captured by the override either.
      if (!answer.ok || !keepsOriginal(answer.gateway)) {
        problems.set(
          address,
          `protected ${address} is routed ${describe(answer)}, not via the original gateway ${original.via}`,
        );
      }
    }
    for (const address of host.addresses) {
      if (address.dev !== original.dev || familyOf(address.ip) !== family) continue;
      const answer = replyAnswer(kernel, family, address.ip);
      // Every probe is held by a narrower route: nothing says where other replies go.
      if (answer === undefined) continue;
      if (!answer.ok || answer.gateway === undefined || !keepsOriginal(answer.gateway)) {
        problems.set(
          `from ${address.ip}`,
          `replies from ${address.ip} are routed ${describe(answer)}, not via the original gateway ${original.via}`,
        );
      }
    }
  }
  capturedProblems(kernel, host, owned, metric, problems, hostBefore);
  return problems;
}

/** Where a reply from `src` goes, asked of the first reply probe no narrower route of main holds. */
function replyAnswer(kernel: FakeKernel, family: 4 | 6, src: IpAddr): LookupResult | undefined {
  for (const dst of REPLY_PROBES[family]) {
    const answer = kernel.lookupSync({ dst, src });
    if (answer.ok && prefixLength(answer.dst) > 1) continue;
    return answer;
  }
  return undefined;
}

/**
 * Replies from the node's addresses on the original interface into a Route's own half
 * of the address space: they must not take the half (nor a default route). A narrower
 * route of main that holds the probe takes them by design (a Route's own /8 keeps the
 * node's traffic to it), so only a reply through a route of prefix length 1 or less
 * not via the original gateway is a problem.
 */
function halfReplyProblems(
  kernel: FakeKernel,
  host: Host,
  half: KernelRoute,
  original: Host["defaultGateways"][number],
  keepsOriginal: (gateway: IpAddr | undefined) => boolean,
  describe: (answer: LookupResult) => string,
  problems: Map<string, string>,
): void {
  const probe = HALF_REPLY_PROBE[half.dst];
  if (probe === undefined) return;
  for (const address of host.addresses) {
    if (address.dev !== original.dev || familyOf(address.ip) !== half.family) continue;
    const answer = kernel.lookupSync({ dst: probe, src: address.ip });
    if (answer.ok && (prefixLength(answer.dst) > 1 || keepsOriginal(answer.gateway))) continue;
    problems.set(
      `from ${address.ip} to ${half.dst}`,
      `replies from ${address.ip} to ${probe} are routed ${describe(answer)}${answer.ok ? ` (route ${answer.dst})` : ""}, not via the original gateway ${original.via}`,
    );
  }
}

/**
 * The protected addresses that one of kroute's main-table routes holds without being a
 * default route (or half of one), routed elsewhere than via the original gateway: that
 * route took them from the default route. Only looked up when kroute routes a prefix
 * holding one: a protected address has at most 127 such prefixes, each an index lookup.
 */
function capturedProblems(
  kernel: FakeKernel,
  host: Host,
  owned: OwnedMirror,
  metric: number,
  problems: Map<string, string>,
  hostBefore: Host | undefined,
): void {
  const view = protectedView(host);
  const holderKeys = view.mainTableHolderKeys(metric);
  for (const [i, { address, family }] of view.addresses.entries()) {
    if (problems.has(address)) continue;
    const original = originalDefault(host, family);
    if (original === undefined || !holderKeys[i]?.some((key) => owned.routes.has(key))) continue;
    const answer = kernel.lookupSync({ dst: address });
    // A directly connected address is not captured: its connected route is more specific.
    if (answer.ok && answer.gateway === undefined) continue;
    const previous = hostBefore !== undefined ? originalDefault(hostBefore, family)?.via : undefined;
    if (answer.ok && (answer.gateway === original.via || answer.gateway === previous)) continue;
    const where = answer.ok ? `via ${answer.gateway} (route ${answer.dst})` : answer.message;
    problems.set(
      address,
      `protected ${address} is routed ${where}, not via the original gateway ${original.via}`,
    );
  }
}

/** The original default of a family: its lowest metric, as the core takes it. */
function originalDefault(host: Host, family: 4 | 6): Host["defaultGateways"][number] | undefined {
  return host.defaultGateways
    .filter((g) => defaultRouteFamily(g) === family)
    .sort((a, b) => (a.metric ?? 0) - (b.metric ?? 0))[0];
}

/** Whether an op can change where a protected address or a reply goes: only those are checked op by op. */
function mayMoveProtected(op: Op, view: ProtectedView): boolean {
  if (op.object !== "route") return true;
  const route = op.action === "delete" ? op.from : op.to;
  return coversDefault(route.dst) || view.holds(route);
}
