/**
 * What is true of a Route itself, whichever node looks at it: its validation, and the
 * destinations refused for reasons of the Route and the agents' settings alone (a
 * protected prefix, no gateway of the destination's family, a destination that is not a
 * CIDR). This is what the Route's `Accepted` condition says. Every node writes that one
 * condition, so it must come out the same on every node, selected or not: anything that
 * depends on the node (a gateway off-link there, the node being the gateway, a conflict
 * with another Route selected there, a kernel refusal) belongs to the node's own status
 * (its NodeRouteTable, SPEC §2), or two nodes would overwrite each other's word.
 */
import { type Family, familyOf, type Prefix } from "./ip.ts";
import { protectedReason } from "./protected.ts";
import type { RouteValidation, ValidRoute } from "./route.ts";
import { type EngineSettings, formatTableRanges } from "./settings.ts";

export interface RouteVerdict {
  /** False when no destination of the Route can be routed on any node, or the Route is invalid. */
  readonly accepted: boolean;
  /** "Accepted", "NoUsableDestination" or "Invalid". */
  readonly reason: string;
  /** What was refused and why; absent when nothing was. */
  readonly message?: string;
}

const DESTINATION_FIELD = /^spec\.destinations\[(\d+)\]$/;

function familyName(family: Family): string {
  return family === 4 ? "IPv4" : "IPv6";
}

/**
 * Why a destination is refused on every node, or undefined. Only what the Route and the
 * settings decide: the agents of one DaemonSet share their settings (protected prefixes).
 */
export function destinationRefusal(
  prefix: Prefix,
  route: ValidRoute,
  settings: Pick<EngineSettings, "protectedPrefixes" | "replyTable" | "routeTables">,
): string | undefined {
  const refused = tableRefusal(route.table, settings) ?? protectedReason(prefix, settings.protectedPrefixes);
  if (refused !== undefined) return refused;
  const family = familyOf(prefix);
  if (!route.gateways.some((gateway) => familyOf(gateway) === family))
    return `no ${familyName(family)} gateway: spec.gateways has none of the destination's family`;
  return undefined;
}

/**
 * Why a Route may not write its table, or undefined: outside the tables the operator
 * lets Routes write (--route-tables), or the reply table. The reply table is kroute's own:
 * its reply rules send whatever the node answers from its own addresses (and main routes
 * only by default) there, so a Route's route in it, 0.0.0.0/1 say, would take the
 * node's replies off the original gateway that the table keeps them on.
 */
function tableRefusal(
  table: number,
  settings: Pick<EngineSettings, "replyTable" | "routeTables">,
): string | undefined {
  if (table === settings.replyTable)
    return `spec.table: ${table} is kroute's reply table (--table-reply), which keeps the node's replies on its original default gateway; no Route may write it`;
  const allowed = settings.routeTables;
  if (allowed !== undefined && !allowed.some((r) => r.first <= table && table <= r.last))
    return `spec.table: ${table} is not a table this agent lets Routes write (--route-tables ${formatTableRanges(allowed)})`;
  return undefined;
}

/**
 * Destinations as their author wrote them, for messages: normalised ones carry their
 * original text in a warning; the others were written in canonical form already.
 */
export function writtenDestinations(route: ValidRoute): Map<number, string> {
  const written = new Map<number, string>();
  for (const finding of [...route.warnings, ...route.issues]) {
    const match = DESTINATION_FIELD.exec(finding.field);
    if (match !== null && typeof finding.value === "string") written.set(Number(match[1]), finding.value);
  }
  return written;
}

/** The Route's verdict, the same on every node of agents sharing `settings`. */
export function routeVerdict(
  validation: RouteValidation,
  settings: Pick<EngineSettings, "protectedPrefixes" | "replyTable" | "routeTables">,
): RouteVerdict {
  if (!validation.ok) {
    return {
      accepted: false,
      reason: "Invalid",
      message: validation.issues.map((i) => `${i.field}: ${i.message}`).join("; "),
    };
  }
  const route = validation.route;
  const written = writtenDestinations(route);
  const refusals: string[] = [];
  let usable = 0;
  for (const destination of route.destinations) {
    const refused = destinationRefusal(destination.prefix, route, settings);
    if (refused === undefined) usable++;
    else refusals.push(`${written.get(destination.index) ?? destination.prefix}: ${refused}`);
  }
  for (const issue of route.issues) {
    if (DESTINATION_FIELD.test(issue.field)) refusals.push(`${issue.field}: ${issue.message}`);
  }
  return {
    accepted: usable > 0,
    reason: usable > 0 ? "Accepted" : "NoUsableDestination",
    ...(refusals.length === 0 ? {} : { message: refusals.join("; ") }),
  };
}
